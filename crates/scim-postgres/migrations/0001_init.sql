-- The first schema: tenants, keys, resources with promoted columns, memberships, the revision
-- feeds and their per-resource history. Every text column that is compared or ordered is
-- COLLATE "C": the byte order Rust uses, whatever the database's locale.

CREATE TABLE scim_tenants (
    id      text COLLATE "C" PRIMARY KEY,
    body    jsonb NOT NULL
);

-- An API key: only its SHA-256 digest is stored. `tenant` is NULL for the operator's keys and for
-- SCIM keys from before tenants (they belong to `default`).
CREATE TABLE scim_keys (
    id      text COLLATE "C" PRIMARY KEY,
    tenant  text COLLATE "C",
    digest  text COLLATE "C" NOT NULL UNIQUE,
    body    jsonb NOT NULL
);
CREATE INDEX scim_keys_tenant ON scim_keys (tenant);

-- One row per user (kind 0) or group (kind 1). No foreign key names the tenant: a write into a
-- tenant and the tenant's deletion exclude each other through advisory locks instead (a foreign
-- key check would lock the tenant's row on every write). `doc` is the canonical SCIM document (without a
-- group's members); the promoted columns hold what the core computed: the folded userName or
-- group displayName (unique per tenant), the externalId, active, and the times as nanoseconds
-- since the epoch (exact, as the core records them).
CREATE TABLE scim_resources (
    tenant       text COLLATE "C" NOT NULL,
    kind         smallint NOT NULL CHECK (kind IN (0, 1)),
    id           text COLLATE "C" NOT NULL,
    version      bigint NOT NULL,
    created      bigint NOT NULL,
    modified     bigint NOT NULL,
    name_key     text COLLATE "C",
    external_id  text COLLATE "C",
    active       boolean,
    doc          jsonb NOT NULL,
    index_keys   jsonb NOT NULL,
    profile      jsonb,
    PRIMARY KEY (tenant, kind, id)
);
CREATE UNIQUE INDEX scim_resources_name_key ON scim_resources (tenant, kind, name_key);
CREATE INDEX scim_resources_external_id ON scim_resources (tenant, kind, external_id);

-- A group's members, one row each; the second index answers "the groups of a member". The
-- foreign key is the guarantee that a member exists (its check locks the member's row against a
-- concurrent delete).
CREATE TABLE scim_members (
    tenant       text COLLATE "C" NOT NULL,
    group_id     text COLLATE "C" NOT NULL,
    member_id    text COLLATE "C" NOT NULL,
    member_kind  smallint NOT NULL CHECK (member_kind IN (0, 1)),
    display      text,
    PRIMARY KEY (tenant, group_id, member_id),
    FOREIGN KEY (tenant, member_kind, member_id) REFERENCES scim_resources (tenant, kind, id)
);
CREATE INDEX scim_members_member ON scim_members (tenant, member_id);

-- The revision entries of every feed (a tenant's id, or '' for the operator's). A row is written
-- in its change's transaction with `seq` NULL; once committed, the sequencer numbers it after the
-- feed's largest number, under the feed's advisory lock, so a number is only ever given to an
-- entry that is already visible, and every later one gets a larger number: a reader of `seq > n`
-- never misses an entry that commits late.
CREATE TABLE scim_revisions (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed   text COLLATE "C" NOT NULL,
    seq    bigint,
    entry  jsonb NOT NULL
);
CREATE UNIQUE INDEX scim_revisions_seq ON scim_revisions (feed, seq);
CREATE INDEX scim_revisions_unsequenced ON scim_revisions (feed, id) WHERE seq IS NULL;

-- Each resource's history: the entries that name it (its own, and those that touched it).
CREATE TABLE scim_history (
    feed      text COLLATE "C" NOT NULL,
    target    text COLLATE "C" NOT NULL,
    revision  bigint NOT NULL REFERENCES scim_revisions (id) ON DELETE CASCADE,
    PRIMARY KEY (feed, target, revision)
);
CREATE INDEX scim_history_revision ON scim_history (revision);
