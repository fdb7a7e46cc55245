-- Where each webhook endpoint's deliveries stand (the feed position, the event being tried,
-- recent and failed attempts): the sender's log, not changes, so no revision entry. A tenant's
-- deletion removes them.
CREATE TABLE scim_deliveries (
    tenant    text COLLATE "C" NOT NULL,
    endpoint  text COLLATE "C" NOT NULL,
    body      jsonb NOT NULL,
    PRIMARY KEY (tenant, endpoint)
);
