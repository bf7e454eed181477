//! Talking to an upstream index.
