//! Release and project filters (bandersnatch plugins).
