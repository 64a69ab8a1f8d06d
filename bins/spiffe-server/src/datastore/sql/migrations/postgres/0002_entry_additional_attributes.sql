-- SPIRE's entry additional_attributes: two flags, off for every existing entry.
ALTER TABLE registration_entries
    ADD COLUMN disable_x509_svid_prefetch BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN jwt_svid_include_jti BOOLEAN NOT NULL DEFAULT FALSE;
