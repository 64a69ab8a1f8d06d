-- spiffe-server datastore, schema version 1 (SQLite).
-- Times are seconds since the Unix epoch. Booleans are 0/1.

-- The single row that allocates revisions: every write that changes an entry, a node or a
-- bundle increments `value` in its transaction. `pruned_through`: every change up to this
-- revision has been deleted from `changes`.
CREATE TABLE revision_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL,
    pruned_through INTEGER NOT NULL
);
INSERT INTO revision_counter (id, value, pruned_through) VALUES (1, 0, 0);

CREATE TABLE changes (
    revision INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    op INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX changes_created_at ON changes (created_at);

CREATE TABLE bundles (
    trust_domain TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    revision_number INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE registration_entries (
    pk INTEGER PRIMARY KEY,
    entry_id TEXT NOT NULL UNIQUE,
    spiffe_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    -- SHA-256 of the sorted selectors, each followed by a newline.
    selector_set BLOB NOT NULL,
    x509_svid_ttl INTEGER,
    jwt_svid_ttl INTEGER,
    admin INTEGER NOT NULL,
    downstream INTEGER NOT NULL,
    store_svid INTEGER NOT NULL,
    hint TEXT,
    expires_at INTEGER,
    revision_number INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
-- SPIRE's uniqueness rule: one entry per (SPIFFE ID, parent ID, selector set).
CREATE UNIQUE INDEX registration_entries_identity
    ON registration_entries (spiffe_id, parent_id, selector_set);
CREATE INDEX registration_entries_parent_id ON registration_entries (parent_id);
CREATE INDEX registration_entries_selector_set ON registration_entries (selector_set);
CREATE INDEX registration_entries_hint ON registration_entries (hint) WHERE hint IS NOT NULL;

CREATE TABLE entry_selectors (
    entry_pk INTEGER NOT NULL REFERENCES registration_entries (pk) ON DELETE CASCADE,
    selector TEXT NOT NULL,
    PRIMARY KEY (entry_pk, selector)
) WITHOUT ROWID;
CREATE INDEX entry_selectors_selector ON entry_selectors (selector);

CREATE TABLE entry_dns_names (
    entry_pk INTEGER NOT NULL REFERENCES registration_entries (pk) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (entry_pk, position)
) WITHOUT ROWID;

CREATE TABLE entry_federates_with (
    entry_pk INTEGER NOT NULL REFERENCES registration_entries (pk) ON DELETE CASCADE,
    trust_domain TEXT NOT NULL REFERENCES bundles (trust_domain),
    PRIMARY KEY (entry_pk, trust_domain)
) WITHOUT ROWID;
CREATE INDEX entry_federates_with_trust_domain ON entry_federates_with (trust_domain);

CREATE TABLE attested_nodes (
    pk INTEGER PRIMARY KEY,
    spiffe_id TEXT NOT NULL UNIQUE,
    attestation_type TEXT NOT NULL,
    cert_serial_number TEXT,
    cert_not_after INTEGER,
    new_cert_serial_number TEXT,
    new_cert_not_after INTEGER,
    banned INTEGER NOT NULL,
    can_reattest INTEGER NOT NULL,
    revision_number INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX attested_nodes_cert_not_after ON attested_nodes (cert_not_after);

CREATE TABLE node_selectors (
    node_pk INTEGER NOT NULL REFERENCES attested_nodes (pk) ON DELETE CASCADE,
    selector TEXT NOT NULL,
    PRIMARY KEY (node_pk, selector)
) WITHOUT ROWID;
CREATE INDEX node_selectors_selector ON node_selectors (selector);

CREATE TABLE federation_relationships (
    trust_domain TEXT PRIMARY KEY,
    bundle_endpoint_url TEXT NOT NULL,
    profile TEXT NOT NULL,
    endpoint_spiffe_id TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- SHA-256 digests of join tokens, never the tokens.
CREATE TABLE join_tokens (
    token_hash BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);

CREATE TABLE ca_journals (
    instance TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
