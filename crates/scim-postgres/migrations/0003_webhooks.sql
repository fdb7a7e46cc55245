-- Each tenant's webhook endpoints: URL, event patterns, enabled, and the signing secret, sealed
-- under the server's secrets key (in `body`; never listed nor logged). A tenant's deletion
-- removes them.
CREATE TABLE scim_webhooks (
    tenant  text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    body    jsonb NOT NULL,
    PRIMARY KEY (tenant, id)
);
