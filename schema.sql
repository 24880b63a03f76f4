-- plankton's catalogue, migration 1. The version lives in PRAGMA user_version.
-- Times are microseconds since the Unix epoch, UTC.

-- One row per image ever registered. A deleted image stays as a tombstone
-- (status 'deleted', deleted_at set) so that its id is never reused and
-- changes-since can report it.
CREATE TABLE images (
    seq              INTEGER PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    location         TEXT    NOT NULL,
    status           TEXT    NOT NULL
                     CHECK (status IN ('available', 'saving', 'error', 'deleted')),
    disk_format      TEXT    NOT NULL,
    container_format TEXT    NOT NULL,
    size             INTEGER NOT NULL CHECK (size >= 0),
    checksum         TEXT    NOT NULL,
    md5              TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    deleted_at       INTEGER,
    is_public        INTEGER NOT NULL CHECK (is_public IN (0, 1)),
    owner            TEXT    NOT NULL,
    min_ram          INTEGER NOT NULL DEFAULT 0 CHECK (min_ram >= 0),
    min_disk         INTEGER NOT NULL DEFAULT 0 CHECK (min_disk >= 0),
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL))
);

-- A location names at most one live image; tombstones may share it.
CREATE UNIQUE INDEX images_live_location ON images (location) WHERE deleted_at IS NULL;

-- Listing: visibility by owner or publicity, then every filter and sort key.
CREATE INDEX images_owner            ON images (owner, created_at);
CREATE INDEX images_public           ON images (is_public, created_at);
CREATE INDEX images_created_at       ON images (created_at, id);
CREATE INDEX images_updated_at       ON images (updated_at, id);
CREATE INDEX images_name             ON images (name, id);
CREATE INDEX images_status           ON images (status, id);
CREATE INDEX images_size             ON images (size, id);
CREATE INDEX images_disk_format      ON images (disk_format, id);
CREATE INDEX images_container_format ON images (container_format, id);

CREATE TABLE image_properties (
    image_seq INTEGER NOT NULL REFERENCES images (seq) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (image_seq, key)
) WITHOUT ROWID;

-- property-<key>=<value> filters.
CREATE INDEX image_properties_by_value ON image_properties (key, value, image_seq);

CREATE TABLE image_members (
    image_seq INTEGER NOT NULL REFERENCES images (seq) ON DELETE CASCADE,
    member    TEXT    NOT NULL,
    PRIMARY KEY (image_seq, member)
) WITHOUT ROWID;

-- "What is shared with me": visibility and /shared-images.
CREATE INDEX image_members_by_member ON image_members (member, image_seq);

-- Hashes of fs-store objects, so that re-registering an unchanged file is
-- instant. Keyed by the object's path under the store root; valid only while
-- its size and modification time are as recorded.
CREATE TABLE object_hashes (
    path     TEXT    PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    checksum TEXT    NOT NULL,
    md5      TEXT    NOT NULL
) WITHOUT ROWID;
