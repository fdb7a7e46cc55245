-- Sessions of the admin web page, which every replica must recognise: by the SHA-256 digest of
-- the session id (the id itself is only in the administrator's cookie).
CREATE TABLE scim_sessions (
    digest  text COLLATE "C" PRIMARY KEY,
    body    jsonb NOT NULL,
    opened  bigint NOT NULL,
    seen    bigint NOT NULL
);
CREATE INDEX scim_sessions_seen ON scim_sessions (seen);
