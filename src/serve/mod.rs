//! The HTTP(S) server.
