-- Gafaelfawr's token schema, as its Alembic migrations leave it.
--
-- Each object is created only if the current schema lacks it, and existing
-- ones are left exactly as they are, so this is harmless on a database
-- Gafaelfawr created, including releases up to 15.4.1 that still use
-- VARCHAR(64) and VARCHAR(512) where this has TEXT. The checks are explicit
-- rather than CREATE ... IF NOT EXISTS because PostgreSQL checks the
-- privilege to create (in the schema, or as the table's owner) before it
-- notices that the object exists, and a role that may only use Gafaelfawr's
-- tables must still be able to run this.
DO $$
DECLARE
    schema_name text := current_schema();
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typname = 'tokentype' AND n.nspname = schema_name
    ) THEN
        CREATE TYPE tokentype AS ENUM (
            'session', 'user', 'notebook', 'internal', 'service', 'oidc'
        );
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typname = 'tokenchange' AND n.nspname = schema_name
    ) THEN
        CREATE TYPE tokenchange AS ENUM ('create', 'revoke', 'expire', 'edit');
    END IF;

    IF to_regclass(format('%I.token', schema_name)) IS NULL THEN
        CREATE TABLE token (
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
    END IF;
    IF to_regclass(format('%I.token_by_username', schema_name)) IS NULL THEN
        CREATE INDEX token_by_username ON token (username, token_type);
    END IF;

    IF to_regclass(format('%I.subtoken', schema_name)) IS NULL THEN
        CREATE TABLE subtoken (
            child  TEXT COLLATE "C" NOT NULL,
            parent TEXT COLLATE "C",
            CONSTRAINT subtoken_pkey PRIMARY KEY (child),
            CONSTRAINT subtoken_child_fkey FOREIGN KEY (child)
                REFERENCES token (token) ON DELETE CASCADE,
            CONSTRAINT subtoken_parent_fkey FOREIGN KEY (parent)
                REFERENCES token (token) ON DELETE SET NULL
        );
    END IF;
    IF to_regclass(format('%I.subtoken_by_parent', schema_name)) IS NULL THEN
        CREATE INDEX subtoken_by_parent ON subtoken (parent);
    END IF;

    IF to_regclass(format('%I.token_change_history', schema_name)) IS NULL THEN
        CREATE TABLE token_change_history (
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
    END IF;
    IF to_regclass(format('%I.token_change_history_by_time', schema_name)) IS NULL THEN
        CREATE INDEX token_change_history_by_time
            ON token_change_history (event_time, id);
    END IF;
    IF to_regclass(format('%I.token_change_history_by_token', schema_name)) IS NULL THEN
        CREATE INDEX token_change_history_by_token
            ON token_change_history (token, event_time, id);
    END IF;
    IF to_regclass(format('%I.token_change_history_by_username', schema_name)) IS NULL THEN
        CREATE INDEX token_change_history_by_username
            ON token_change_history (username, event_time, id);
    END IF;
END
$$;
