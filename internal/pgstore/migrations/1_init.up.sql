-- Shares: one row a link (share.Share). secret is the FTP password sealed
-- by the bridge with its key file; the key is never stored here.
CREATE TABLE shares (
    id            text PRIMARY KEY,
    owner         text NOT NULL,
    login         text NOT NULL,
    client        text NOT NULL,
    scheme        text NOT NULL,
    host          text NOT NULL,
    port          integer NOT NULL,
    ftp_user      text NOT NULL,
    secret        bytea,
    path          text NOT NULL,
    encoding      text NOT NULL,
    mode          text NOT NULL,
    dir           boolean NOT NULL,
    created       timestamptz NOT NULL,
    expires       timestamptz NOT NULL,
    password_hash bytea,
    max_downloads integer NOT NULL,
    downloads     integer NOT NULL,
    last_download timestamptz, -- NULL: never downloaded
    last_path     text NOT NULL,
    last_etag     text NOT NULL,
    revoked       boolean NOT NULL
);
-- List by owner or login, newest first; the limits count by owner and
-- client; Purge deletes by expiry.
CREATE INDEX shares_owner ON shares (owner, created DESC);
CREATE INDEX shares_login ON shares (login, created DESC);
CREATE INDEX shares_client ON shares (client);
CREATE INDEX shares_expires ON shares (expires);

-- Sessions: one row a browser session (session.Record), named by its
-- owner, which never changes; id is the cookie's, new on every login.
CREATE TABLE sessions (
    owner     text PRIMARY KEY,
    id        text NOT NULL UNIQUE,
    created   timestamptz NOT NULL,
    last_seen timestamptz NOT NULL
);
-- Expire and the pushing out of the least recently used.
CREATE INDEX sessions_last_seen ON sessions (last_seen);

-- A session's logins, one row a site; password is sealed by the bridge
-- for that owner and site.
CREATE TABLE session_sites (
    owner    text NOT NULL REFERENCES sessions (owner) ON DELETE CASCADE,
    site     text NOT NULL,
    password bytea,
    encoding text NOT NULL,
    mode     text NOT NULL,
    PRIMARY KEY (owner, site)
);
