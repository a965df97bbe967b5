-- Cosignatures peers (as witnesses) gave this node's checkpoints: the
-- third-party evidence of when each checkpoint existed.
CREATE TABLE cosignatures (
    witness   TEXT NOT NULL,
    size      INTEGER NOT NULL,
    line      TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    PRIMARY KEY (witness, size)
);
CREATE INDEX cosignatures_by_size ON cosignatures (size);
