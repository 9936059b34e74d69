//! Flattening of nested metadata for dotenv and INI (stub, being written).
use crate::error::Result;
use crate::tree::{Map, Value};

/// Flattens the metadata tree to `(key, string value)` pairs.
pub(crate) fn flatten(_metadata: &Map) -> Vec<(String, String)> { todo!() }
/// Rebuilds the metadata tree from flat pairs.
pub(crate) fn unflatten(_flat: Vec<(String, Value)>) -> Result<Map> { todo!() }
