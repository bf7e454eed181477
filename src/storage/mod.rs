//! Storage of the mirror tree.
