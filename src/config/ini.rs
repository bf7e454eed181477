//! ConfigParser-compatible INI reading (placeholder).
