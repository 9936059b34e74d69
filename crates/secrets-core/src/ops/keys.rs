//! `rotate`, `updatekeys`, `groups` on single files (issue 3; being written).
