//! Mirror state: bandersnatch state files and vorpal's own database.
