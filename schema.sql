-- nexds metadata schema, embedded in the binary with include_str!.
-- Applied to an empty database; the version lives in PRAGMA user_version.
-- Times are UNIX seconds (UTC). Enum columns hold the NEX numeric values.

-- API tokens: stored as SHA-256 of the token, never in clear.
CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY,
    token_hash    BLOB    NOT NULL UNIQUE,
    namespace     TEXT    NOT NULL,
    principal_id  INTEGER,              -- NULL: a title token
    created_time  INTEGER NOT NULL,
    revoked_time  INTEGER
);

-- One row per DataStore object. AUTOINCREMENT: data_ids are never reused.
CREATE TABLE objects (
    data_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace        TEXT    NOT NULL,
    owner_id         INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    data_type        INTEGER NOT NULL,
    name             TEXT    NOT NULL DEFAULT '',
    meta_binary      BLOB    NOT NULL DEFAULT x'',
    flags            INTEGER NOT NULL DEFAULT 0,
    period           INTEGER NOT NULL,
    refer_data_id    INTEGER NOT NULL DEFAULT 0,
    access_type      INTEGER NOT NULL,   -- 0 public, 1 friend, 2 specified, 3 private, 4 specified_friend
    update_type      INTEGER NOT NULL,
    status           INTEGER NOT NULL DEFAULT 0,  -- 0 none, 2 pending, 5 rejected
    state            INTEGER NOT NULL,   -- 0 uploading, 1 ready, 2 deleted
    created_time     INTEGER NOT NULL,
    updated_time     INTEGER NOT NULL,
    referred_time    INTEGER NOT NULL,
    referred_count   INTEGER NOT NULL DEFAULT 0,
    expire_time      INTEGER NOT NULL,
    access_password  INTEGER NOT NULL,
    update_password  INTEGER NOT NULL,
    deleted_time     INTEGER,
    blob_key         TEXT,               -- key of the current file; NULL for meta-only objects
    version          INTEGER NOT NULL DEFAULT 1  -- number of the current file version
);
-- A principal's objects in data_id order: listing one's own data, export, erase.
CREATE INDEX objects_owner ON objects (namespace, owner_id, data_id);
-- Uploads awaiting complete, found by the sweeper.
CREATE INDEX objects_uploading ON objects (created_time) WHERE state = 0;
-- User data starts at 1,000,000 (NEX): seed the AUTOINCREMENT counter.
INSERT INTO sqlite_sequence (name, seq) VALUES ('objects', 999999);

-- Tags (decoded bytes), kept sorted by the primary key.
CREATE TABLE object_tags (
    data_id  INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    tag      BLOB    NOT NULL,
    PRIMARY KEY (data_id, tag)
) WITHOUT ROWID;

-- recipient_ids of access_permission (kind 0) and update_permission (kind 1).
CREATE TABLE object_recipients (
    data_id       INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    kind          INTEGER NOT NULL,
    principal_id  INTEGER NOT NULL,
    PRIMARY KEY (data_id, kind, principal_id)
) WITHOUT ROWID;

-- Rating slots initialised by rating_init_params at prepare.
CREATE TABLE rating_slots (
    data_id          INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    slot             INTEGER NOT NULL,
    flags            INTEGER NOT NULL,   -- 0x04 modifiable, 0x08 round_minus, 0x10 disable_self_rating
    initial_value    INTEGER NOT NULL,
    range_min        INTEGER,
    range_max        INTEGER,
    lock_type        INTEGER NOT NULL,   -- 0 none, 1 interval, 2 period, 3 permanent
    period_hour      INTEGER NOT NULL DEFAULT 0,
    period_duration  INTEGER NOT NULL DEFAULT 0,
    total_value      INTEGER NOT NULL,
    count            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (data_id, slot)
) WITHOUT ROWID;

-- Ratings given in `modifiable` slots: one per rater, replaced when they rate again.
CREATE TABLE rating_entries (
    data_id     INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    slot        INTEGER NOT NULL,
    rater_id    INTEGER NOT NULL,
    value       INTEGER NOT NULL,
    rated_time  INTEGER NOT NULL,
    PRIMARY KEY (data_id, slot, rater_id)
) WITHOUT ROWID;
-- The ratings one principal gave: export and erase.
CREATE INDEX rating_entries_rater ON rating_entries (rater_id);

-- Duplicate-rating locks per rater, object and slot.
CREATE TABLE rating_locks (
    data_id       INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    slot          INTEGER NOT NULL,
    rater_id      INTEGER NOT NULL,
    locked_until  INTEGER NOT NULL,
    PRIMARY KEY (data_id, slot, rater_id)
) WITHOUT ROWID;
-- The locks one principal holds: export and erase.
CREATE INDEX rating_locks_rater ON rating_locks (rater_id);

-- Persistence slots: (principal, slot) holds one object that then never expires.
CREATE TABLE persistence_slots (
    namespace     TEXT    NOT NULL,
    principal_id  INTEGER NOT NULL,
    slot          INTEGER NOT NULL,
    data_id       INTEGER NOT NULL UNIQUE REFERENCES objects (data_id) ON DELETE CASCADE,
    PRIMARY KEY (namespace, principal_id, slot)
) WITHOUT ROWID;

-- Versions of an object's file (GS2 generations); the current one is also in
-- objects.blob_key/size/version. A version that stops being current is kept for the
-- version retention window from superseded_time.
CREATE TABLE object_versions (
    data_id          INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    size             INTEGER NOT NULL,
    blob_key         TEXT    NOT NULL,
    created_time     INTEGER NOT NULL,
    state            INTEGER NOT NULL,   -- 0 uploading, 1 stored
    superseded_time  INTEGER,            -- when it stopped being current
    PRIMARY KEY (data_id, version)
) WITHOUT ROWID;
CREATE INDEX object_versions_uploading ON object_versions (created_time) WHERE state = 0;
CREATE INDEX object_versions_superseded ON object_versions (superseded_time)
    WHERE superseded_time IS NOT NULL;

-- Files whose rows are gone, queued in the same transaction that removed the rows;
-- the janitor deletes each file, then its entry, so a crash loses track of none.
-- queued_time is when the file is due: the time it was queued, or, for an upload whose
-- POST form is still valid (an erase), when that form expires, so a late POST is undone.
CREATE TABLE blob_deletions (
    blob_key     TEXT    PRIMARY KEY,
    queued_time  INTEGER NOT NULL
) WITHOUT ROWID;
-- The janitor takes due files oldest first.
CREATE INDEX blob_deletions_due ON blob_deletions (queued_time);

-- Whatever removes an object or a version (janitor, erase, cascades) queues its file.
CREATE TRIGGER objects_queue_file AFTER DELETE ON objects
    WHEN OLD.blob_key IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO blob_deletions (blob_key, queued_time) VALUES (OLD.blob_key, unixepoch());
END;
CREATE TRIGGER object_versions_queue_file AFTER DELETE ON object_versions
BEGIN
    INSERT OR IGNORE INTO blob_deletions (blob_key, queued_time) VALUES (OLD.blob_key, unixepoch());
END;

-- Found by the janitor: expired objects and deleted ones past the retention window.
CREATE INDEX objects_expire ON objects (expire_time) WHERE state = 1;
CREATE INDEX objects_deleted ON objects (deleted_time) WHERE state = 2;

-- Search indexes (version 2)
-- Every search is driven by one of these (src/store/search.rs). All but the name
-- index hold every column a search filters or sorts on, so counting the exact
-- total reads only an index, never the objects table; objects_search_by_id serves
-- tag searches, which find their objects by the data_ids of object_tags_by_tag.
CREATE INDEX objects_search_by_type ON objects (namespace, state, status, data_type,
    expire_time, owner_id, access_type, updated_time, created_time, size, name);
CREATE INDEX objects_search_by_owner ON objects (namespace, state, status, owner_id,
    expire_time, data_type, access_type, updated_time, created_time, size, name);
CREATE INDEX objects_search_by_updated_time ON objects (namespace, state, status, updated_time,
    expire_time, data_type, owner_id, access_type, created_time, size, name);
CREATE INDEX objects_search_by_name ON objects (namespace, state, status, name, expire_time);
CREATE INDEX objects_search_by_id ON objects (data_id, namespace, state, status, expire_time,
    owner_id, access_type, data_type, updated_time, created_time, size, name);
CREATE INDEX object_tags_by_tag ON object_tags (tag, data_id);

PRAGMA user_version = 2;

-- Friends and notifications (version 3)
-- Friend lists (DESIGN §14), directed: friend_id is a friend of owner_id. The
-- primary key answers "is C a friend of O?" for every permission check and for
-- the friend conditions of a search, and lists O's friends in order.
CREATE TABLE friends (
    namespace  TEXT    NOT NULL,
    owner_id   INTEGER NOT NULL,
    friend_id  INTEGER NOT NULL,
    PRIMARY KEY (namespace, owner_id, friend_id)
) WITHOUT ROWID;

-- Notifications (DESIGN §15): one row per recipient of an object that became
-- visible with use_notification_on_post. AUTOINCREMENT: ids only grow, so a
-- client's `since` never skips one. They go with their object, or after 30 days.
CREATE TABLE notifications (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace     TEXT    NOT NULL,
    recipient_id  INTEGER NOT NULL,
    data_id       INTEGER NOT NULL REFERENCES objects (data_id) ON DELETE CASCADE,
    owner_id      INTEGER NOT NULL,
    type          INTEGER NOT NULL,   -- 0 post
    created_time  INTEGER NOT NULL
);
-- A principal's notifications after an id, oldest first.
CREATE INDEX notifications_recipient ON notifications (namespace, recipient_id, id);
-- Removed with their object (the cascade) and by the janitor when old.
CREATE INDEX notifications_data ON notifications (data_id);
CREATE INDEX notifications_created ON notifications (created_time);

PRAGMA user_version = 3;

-- Webhook outbox (version 4)
-- Events for NEXDS_WEBHOOK_URL (README, Webhooks), each written in the transaction of
-- the change it reports. A row goes when its POST got a 2xx, or after 24 h of failed
-- attempts. AUTOINCREMENT: the id is the delivery id receivers deduplicate by, never reused.
-- Times here are UNIX milliseconds, but event_time (seconds, like every other time).
CREATE TABLE webhook_outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type     TEXT    NOT NULL,    -- object.created, review.decided, notification, ...
    namespace      TEXT    NOT NULL,
    data_id        INTEGER NOT NULL,    -- no foreign key: the event outlives a purged object
    owner_id       INTEGER NOT NULL,
    event_time     INTEGER NOT NULL,
    extra          TEXT    NOT NULL DEFAULT '{}',  -- further body fields, one JSON object
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_attempt   INTEGER NOT NULL DEFAULT 0,     -- not sent before this (backoff)
    claimed_until  INTEGER NOT NULL DEFAULT 0,     -- a node is sending it until this lease ends
    last_error     TEXT
);
-- Events of one object in order: only the oldest undelivered one may be sent.
CREATE INDEX webhook_outbox_object ON webhook_outbox (data_id, id);
-- Due events, found by every node's delivery task.
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt);

PRAGMA user_version = 4;

-- Search counts (version 5)
-- The number of finished objects per namespace, status, visibility class (public or
-- not) and bucket of expiry time, for every object (kind 0), per data_type (kind 1) and
-- per tag (kind 2), kept by the triggers below in the transaction of every write. Each
-- object is counted twice: in its hour (span 1) and in its day (span 24). A search total
-- is the sum over the days after today, the hours left today after the current one, and
-- an exact count of the objects expiring later in the current hour; for a principal, the
-- public part of that plus the non-public objects it may see, counted from its own, its
-- recipients' and its friends' rows (src/store/sqlite/search.rs). Rows that drop to 0 stay.
CREATE TABLE search_counts (
    namespace  TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    kind       INTEGER NOT NULL,   -- 0 every object, 1 per data_type, 2 per tag
    key                NOT NULL,   -- 0, the data_type, or the tag
    public     INTEGER NOT NULL,   -- access_type = 0 (public)
    span       INTEGER NOT NULL,   -- hours per bucket: 1 or 24
    bucket     INTEGER NOT NULL,   -- expire_time / (span * 3600)
    n          INTEGER NOT NULL,
    PRIMARY KEY (namespace, status, kind, key, public, span, bucket)
) WITHOUT ROWID;
INSERT INTO search_counts (namespace, status, kind, key, public, span, bucket, n)
    SELECT namespace, status, 0, 0, access_type = 0, s.span, expire_time / (s.span * 3600),
        count(*)
    FROM objects, (SELECT 1 AS span UNION ALL SELECT 24) s WHERE state = 1
    GROUP BY 1, 2, 5, 6, 7;
INSERT INTO search_counts (namespace, status, kind, key, public, span, bucket, n)
    SELECT namespace, status, 1, data_type, access_type = 0, s.span,
        expire_time / (s.span * 3600), count(*)
    FROM objects, (SELECT 1 AS span UNION ALL SELECT 24) s WHERE state = 1
    GROUP BY 1, 2, 4, 5, 6, 7;
INSERT INTO search_counts (namespace, status, kind, key, public, span, bucket, n)
    SELECT o.namespace, o.status, 2, t.tag, o.access_type = 0, s.span,
        o.expire_time / (s.span * 3600), count(*)
    FROM object_tags t JOIN objects o ON o.data_id = t.data_id,
        (SELECT 1 AS span UNION ALL SELECT 24) s
    WHERE o.state = 1
    GROUP BY 1, 2, 4, 5, 6, 7;

CREATE TRIGGER objects_count_insert AFTER INSERT ON objects WHEN NEW.state = 1
BEGIN
    INSERT INTO search_counts (namespace, status, kind, key, public, span, bucket, n)
        SELECT NEW.namespace, NEW.status, k.kind, k.key, NEW.access_type = 0, s.span,
            NEW.expire_time / (s.span * 3600), 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, NEW.data_type) k,
            (SELECT 1 AS span UNION ALL SELECT 24) s
        WHERE true
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- Its tags go first, each through object_tags_count_delete, while the object is there.
CREATE TRIGGER objects_count_delete BEFORE DELETE ON objects WHEN OLD.state = 1
BEGIN
    DELETE FROM object_tags WHERE data_id = OLD.data_id;
    UPDATE search_counts SET n = n - 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, OLD.data_type) k,
            (SELECT 1 AS span UNION ALL SELECT 24) s
        WHERE namespace = OLD.namespace AND status = OLD.status
        AND search_counts.kind = k.kind AND search_counts.key = k.key
        AND public = (OLD.access_type = 0) AND search_counts.span = s.span
        AND bucket = OLD.expire_time / (s.span * 3600);
END;
CREATE TRIGGER objects_count_update
    AFTER UPDATE OF namespace, state, status, data_type, access_type, expire_time ON objects
    WHEN (OLD.state = 1 OR NEW.state = 1) AND (OLD.namespace IS NOT NEW.namespace
        OR OLD.state IS NOT NEW.state OR OLD.status IS NOT NEW.status
        OR OLD.data_type IS NOT NEW.data_type OR (OLD.access_type = 0) IS NOT (NEW.access_type = 0)
        OR OLD.expire_time / 3600 IS NOT NEW.expire_time / 3600)
BEGIN
    UPDATE search_counts SET n = n - 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, OLD.data_type
              UNION ALL SELECT 2, tag FROM object_tags WHERE data_id = OLD.data_id) k,
            (SELECT 1 AS span UNION ALL SELECT 24) s
        WHERE OLD.state = 1 AND namespace = OLD.namespace AND status = OLD.status
        AND search_counts.kind = k.kind AND search_counts.key = k.key
        AND public = (OLD.access_type = 0) AND search_counts.span = s.span
        AND bucket = OLD.expire_time / (s.span * 3600);
    INSERT INTO search_counts (namespace, status, kind, key, public, span, bucket, n)
        SELECT NEW.namespace, NEW.status, k.kind, k.key, NEW.access_type = 0, s.span,
            NEW.expire_time / (s.span * 3600), 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, NEW.data_type
              UNION ALL SELECT 2, tag FROM object_tags WHERE data_id = NEW.data_id) k,
            (SELECT 1 AS span UNION ALL SELECT 24) s
        WHERE NEW.state = 1
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER object_tags_count_insert AFTER INSERT ON object_tags
BEGIN
    INSERT INTO search_counts (namespace, status, kind, key, public, span, bucket, n)
        SELECT o.namespace, o.status, 2, NEW.tag, o.access_type = 0, s.span,
            o.expire_time / (s.span * 3600), 1
        FROM objects o, (SELECT 1 AS span UNION ALL SELECT 24) s
        WHERE o.data_id = NEW.data_id AND o.state = 1
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER object_tags_count_delete AFTER DELETE ON object_tags
BEGIN
    UPDATE search_counts SET n = n - 1
        FROM (SELECT namespace AS ns, status AS st, access_type = 0 AS pub, expire_time AS e
              FROM objects WHERE data_id = OLD.data_id AND state = 1) o,
            (SELECT 1 AS sp UNION ALL SELECT 24) s
        WHERE namespace = o.ns AND status = o.st AND kind = 2 AND key = OLD.tag
        AND public = o.pub AND span = s.sp AND bucket = o.e / (s.sp * 3600);
END;

-- A principal's view: the objects naming it as a recipient, the owners listing it
-- as a friend.
CREATE INDEX object_recipients_by_principal ON object_recipients (principal_id, kind, data_id);
CREATE INDEX friends_by_friend ON friends (namespace, friend_id, owner_id);
-- Within a type in data_id order, and by time with data_id breaking ties, so that a
-- page of a type search (offset=any too) or of a search sorted by updated_time is a
-- walk of an index rather than a sort of every match.
DROP INDEX objects_search_by_type;
CREATE INDEX objects_search_by_type ON objects (namespace, state, status, data_type, data_id,
    expire_time, owner_id, access_type, updated_time, created_time, size, name);
DROP INDEX objects_search_by_updated_time;
CREATE INDEX objects_search_by_updated_time ON objects (namespace, state, status, updated_time,
    data_id, expire_time, data_type, owner_id, access_type, created_time, size, name);

PRAGMA user_version = 5;

-- Search blocks (version 6)
-- The same counts as search_counts (every object, per data_type, per tag; by namespace,
-- status and public or not), by block of 16,384 data_ids (data_id >> 14) instead of by
-- expiry, of the finished objects expiring after the horizon (search_horizon). How many
-- matches of a counted search come before a data_id is the sum over the blocks before its
-- own, so offset=any finds where its window starts by reading one row per block and
-- skipping only within one block, rather than skipping up to half the matches
-- (src/store/sqlite/search.rs). The janitor moves the horizon up to its now (taking off
-- what expired in between); a search corrects by the few objects expiring between the
-- horizon and its own now. Rows that drop to 0 stay.
CREATE TABLE search_horizon (
    id       INTEGER PRIMARY KEY CHECK (id = 0),
    horizon  INTEGER NOT NULL      -- UNIX seconds
);
INSERT INTO search_horizon (id, horizon) VALUES (0, unixepoch());
CREATE TABLE search_blocks (
    namespace  TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    kind       INTEGER NOT NULL,   -- as in search_counts
    key                NOT NULL,
    block      INTEGER NOT NULL,   -- data_id >> 14
    public     INTEGER NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (namespace, status, kind, key, block, public)
) WITHOUT ROWID;
INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
    SELECT namespace, status, 0, 0, data_id >> 14, access_type = 0, count(*)
    FROM objects WHERE state = 1 AND expire_time > (SELECT horizon FROM search_horizon)
    GROUP BY 1, 2, 5, 6;
INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
    SELECT namespace, status, 1, data_type, data_id >> 14, access_type = 0, count(*)
    FROM objects WHERE state = 1 AND expire_time > (SELECT horizon FROM search_horizon)
    GROUP BY 1, 2, 4, 5, 6;
INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
    SELECT o.namespace, o.status, 2, t.tag, o.data_id >> 14, o.access_type = 0, count(*)
    FROM object_tags t JOIN objects o ON o.data_id = t.data_id
    WHERE o.state = 1 AND o.expire_time > (SELECT horizon FROM search_horizon)
    GROUP BY 1, 2, 4, 5, 6;

CREATE TRIGGER objects_block_insert AFTER INSERT ON objects
    WHEN NEW.state = 1 AND NEW.expire_time > (SELECT horizon FROM search_horizon)
BEGIN
    INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
        SELECT NEW.namespace, NEW.status, k.kind, k.key, NEW.data_id >> 14,
            NEW.access_type = 0, 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, NEW.data_type) k
        WHERE true
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
-- Its tags go first, through object_tags_block_delete, in objects_count_delete.
CREATE TRIGGER objects_block_delete BEFORE DELETE ON objects
    WHEN OLD.state = 1 AND OLD.expire_time > (SELECT horizon FROM search_horizon)
BEGIN
    UPDATE search_blocks SET n = n - 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, OLD.data_type) k
        WHERE namespace = OLD.namespace AND status = OLD.status
        AND search_blocks.kind = k.kind AND search_blocks.key = k.key
        AND block = OLD.data_id >> 14 AND public = (OLD.access_type = 0);
END;
-- Counted before (c_old) or after (c_new): finished and expiring after the horizon.
CREATE TRIGGER objects_block_update
    AFTER UPDATE OF namespace, state, status, data_type, access_type, expire_time ON objects
    WHEN ((OLD.state = 1 AND OLD.expire_time > (SELECT horizon FROM search_horizon))
        OR (NEW.state = 1 AND NEW.expire_time > (SELECT horizon FROM search_horizon)))
        AND ((OLD.state = 1 AND OLD.expire_time > (SELECT horizon FROM search_horizon))
            IS NOT (NEW.state = 1 AND NEW.expire_time > (SELECT horizon FROM search_horizon))
        OR OLD.namespace IS NOT NEW.namespace OR OLD.status IS NOT NEW.status
        OR OLD.data_type IS NOT NEW.data_type OR (OLD.access_type = 0) IS NOT (NEW.access_type = 0))
BEGIN
    UPDATE search_blocks SET n = n - 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, OLD.data_type
              UNION ALL SELECT 2, tag FROM object_tags WHERE data_id = OLD.data_id) k,
            search_horizon h
        WHERE OLD.state = 1 AND OLD.expire_time > h.horizon
        AND namespace = OLD.namespace AND status = OLD.status
        AND search_blocks.kind = k.kind AND search_blocks.key = k.key
        AND block = OLD.data_id >> 14 AND public = (OLD.access_type = 0);
    INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
        SELECT NEW.namespace, NEW.status, k.kind, k.key, NEW.data_id >> 14,
            NEW.access_type = 0, 1
        FROM (SELECT 0 AS kind, 0 AS key UNION ALL SELECT 1, NEW.data_type
              UNION ALL SELECT 2, tag FROM object_tags WHERE data_id = NEW.data_id) k,
            search_horizon h
        WHERE NEW.state = 1 AND NEW.expire_time > h.horizon
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER object_tags_block_insert AFTER INSERT ON object_tags
BEGIN
    INSERT INTO search_blocks (namespace, status, kind, key, block, public, n)
        SELECT o.namespace, o.status, 2, NEW.tag, o.data_id >> 14, o.access_type = 0, 1
        FROM objects o, search_horizon h
        WHERE o.data_id = NEW.data_id AND o.state = 1 AND o.expire_time > h.horizon
        ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER object_tags_block_delete AFTER DELETE ON object_tags
BEGIN
    UPDATE search_blocks SET n = n - 1
        FROM (SELECT namespace AS ns, status AS st, access_type = 0 AS pub
              FROM objects, search_horizon h
              WHERE data_id = OLD.data_id AND state = 1 AND expire_time > h.horizon) o
        WHERE namespace = o.ns AND status = o.st AND kind = 2 AND key = OLD.tag
        AND block = OLD.data_id >> 14 AND public = o.pub;
END;

PRAGMA user_version = 6;
