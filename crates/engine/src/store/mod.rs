//! A collection on disk: the manifest, the SQLite catalog, the memory-mapped embedding matrix, the
//! generations of index files behind one commit point, building the indexes, the thumbnails kept beside
//! them ([`thumbnails`]), and checking that they agree ([`verify`]).

pub mod catalog;
pub mod generation;
pub mod indexes;
pub mod manifest;
pub mod matrix;
pub mod space;
pub mod thumbnails;
pub mod verify;
