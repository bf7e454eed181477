//! bandersnatch.conf mapping (in progress).
