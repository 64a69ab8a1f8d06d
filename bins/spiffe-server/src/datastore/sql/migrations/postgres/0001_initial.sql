-- spiffe-server datastore, schema version 1 (PostgreSQL).
-- Times are seconds since the Unix epoch. Text keys use the "C" collation (byte order), as
-- SQLite does, so paging order is the same on both backends.

-- The single row that allocates revisions: every write that changes an entry, a node or a
-- bundle increments `value` in its transaction. `pruned_through`: every change up to this
-- revision has been deleted from `changes`.
CREATE TABLE revision_counter (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL,
    pruned_through BIGINT NOT NULL
);
INSERT INTO revision_counter (id, value, pruned_through) VALUES (1, 0, 0);

CREATE TABLE changes (
    revision BIGINT PRIMARY KEY,
    kind BIGINT NOT NULL,
    record_id TEXT NOT NULL,
    op BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);

CREATE TABLE bundles (
    trust_domain TEXT COLLATE "C" PRIMARY KEY,
    data BYTEA NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE registration_entries (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id TEXT COLLATE "C" NOT NULL UNIQUE,
    spiffe_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    -- SHA-256 of the sorted selectors, each followed by a newline.
    selector_set BYTEA NOT NULL,
    x509_svid_ttl BIGINT,
    jwt_svid_ttl BIGINT,
    admin BOOLEAN NOT NULL,
    downstream BOOLEAN NOT NULL,
    store_svid BOOLEAN NOT NULL,
    hint TEXT,
    expires_at BIGINT,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
-- SPIRE's uniqueness rule: one entry per (SPIFFE ID, parent ID, selector set).
CREATE UNIQUE INDEX registration_entries_identity
    ON registration_entries (spiffe_id, parent_id, selector_set);
CREATE INDEX registration_entries_parent_id ON registration_entries (parent_id);
CREATE INDEX registration_entries_selector_set ON registration_entries (selector_set);
CREATE INDEX registration_entries_hint ON registration_entries (hint) WHERE hint IS NOT NULL;

CREATE TABLE entry_selectors (
    entry_pk BIGINT NOT NULL REFERENCES registration_entries (pk) ON DELETE CASCADE,
    selector TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (entry_pk, selector)
);
CREATE INDEX entry_selectors_selector ON entry_selectors (selector, entry_pk);

CREATE TABLE entry_dns_names (
    entry_pk BIGINT NOT NULL REFERENCES registration_entries (pk) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (entry_pk, position)
);

CREATE TABLE entry_federates_with (
    entry_pk BIGINT NOT NULL REFERENCES registration_entries (pk) ON DELETE CASCADE,
    trust_domain TEXT COLLATE "C" NOT NULL REFERENCES bundles (trust_domain),
    PRIMARY KEY (entry_pk, trust_domain)
);
CREATE INDEX entry_federates_with_trust_domain ON entry_federates_with (trust_domain, entry_pk);

CREATE TABLE attested_nodes (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spiffe_id TEXT COLLATE "C" NOT NULL UNIQUE,
    attestation_type TEXT NOT NULL,
    cert_serial_number TEXT,
    cert_not_after BIGINT,
    new_cert_serial_number TEXT,
    new_cert_not_after BIGINT,
    banned BOOLEAN NOT NULL,
    can_reattest BOOLEAN NOT NULL,
    revision_number BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX attested_nodes_cert_not_after ON attested_nodes (cert_not_after);

CREATE TABLE node_selectors (
    node_pk BIGINT NOT NULL REFERENCES attested_nodes (pk) ON DELETE CASCADE,
    selector TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (node_pk, selector)
);
CREATE INDEX node_selectors_selector ON node_selectors (selector, node_pk);

CREATE TABLE federation_relationships (
    trust_domain TEXT COLLATE "C" PRIMARY KEY,
    bundle_endpoint_url TEXT NOT NULL,
    profile TEXT NOT NULL,
    endpoint_spiffe_id TEXT,
    created_at BIGINT NOT NULL
);

-- SHA-256 digests of join tokens, never the tokens.
CREATE TABLE join_tokens (
    token_hash BYTEA PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);

CREATE TABLE ca_journals (
    instance TEXT COLLATE "C" PRIMARY KEY,
    data BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);
