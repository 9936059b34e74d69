//! INI store (stub, being written).
use crate::error::Result;
use crate::tree::Map;

pub(crate) fn parse(_input: &[u8]) -> Result<Map> { todo!() }
pub(crate) fn emit(_doc: &Map) -> Result<Vec<u8>> { todo!() }
