-- SPIRE's entry additional_attributes: two flags, off for every existing entry.
ALTER TABLE registration_entries
    ADD COLUMN disable_x509_svid_prefetch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registration_entries
    ADD COLUMN jwt_svid_include_jti INTEGER NOT NULL DEFAULT 0;
