-- Gafaelfawr's token schema, as its Alembic migrations leave it. Every
-- statement leaves an existing object alone, so this is harmless on a
-- database Gafaelfawr created, including releases up to 15.4.1 that still
-- use VARCHAR(64) and VARCHAR(512) where this has TEXT.

-- CREATE TYPE has no IF NOT EXISTS.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typname = 'tokentype' AND n.nspname = current_schema()
    ) THEN
        CREATE TYPE tokentype AS ENUM (
            'session', 'user', 'notebook', 'internal', 'service', 'oidc'
        );
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typname = 'tokenchange' AND n.nspname = current_schema()
    ) THEN
        CREATE TYPE tokenchange AS ENUM ('create', 'revoke', 'expire', 'edit');
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS token (
    token      TEXT COLLATE "C" NOT NULL,
    username   TEXT NOT NULL,
    token_type tokentype NOT NULL,
    token_name TEXT,
    scopes     TEXT NOT NULL,
    service    TEXT,
    created    TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    last_used  TIMESTAMP WITHOUT TIME ZONE,
    expires    TIMESTAMP WITHOUT TIME ZONE,
    CONSTRAINT token_pkey PRIMARY KEY (token),
    CONSTRAINT token_username_token_name_key UNIQUE (username, token_name)
);
CREATE INDEX IF NOT EXISTS token_by_username ON token (username, token_type);

CREATE TABLE IF NOT EXISTS subtoken (
    child  TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C",
    CONSTRAINT subtoken_pkey PRIMARY KEY (child),
    CONSTRAINT subtoken_child_fkey FOREIGN KEY (child)
        REFERENCES token (token) ON DELETE CASCADE,
    CONSTRAINT subtoken_parent_fkey FOREIGN KEY (parent)
        REFERENCES token (token) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS subtoken_by_parent ON subtoken (parent);

CREATE TABLE IF NOT EXISTS token_change_history (
    id             SERIAL NOT NULL,
    token          TEXT NOT NULL,
    username       TEXT NOT NULL,
    token_type     tokentype NOT NULL,
    token_name     TEXT,
    parent         TEXT,
    scopes         TEXT NOT NULL,
    service        TEXT,
    expires        TIMESTAMP WITHOUT TIME ZONE,
    actor          TEXT,
    action         tokenchange NOT NULL,
    old_token_name TEXT,
    old_scopes     TEXT,
    old_expires    TIMESTAMP WITHOUT TIME ZONE,
    ip_address     INET,
    event_time     TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    CONSTRAINT token_change_history_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS token_change_history_by_time
    ON token_change_history (event_time, id);
CREATE INDEX IF NOT EXISTS token_change_history_by_token
    ON token_change_history (token, event_time, id);
CREATE INDEX IF NOT EXISTS token_change_history_by_username
    ON token_change_history (username, event_time, id);
