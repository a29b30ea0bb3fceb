//! What the batcher has sent and not yet seen confirmed, persisted so a restart neither skips
//! nor duplicates a range. The contract on L1 is the truth about what is committed; this file
//! only remembers in-flight transactions (to watch, rebroadcast or replace them with the same
//! nonce instead of sending a competing one).

use std::path::{Path, PathBuf};

use alloy_primitives::{B256, Bytes};
use serde::{Deserialize, Serialize};

use crate::error::{BatcherError, BatcherResult};

/// One signed L1 transaction carrying a frame of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    /// Its nonce.
    pub nonce: u64,
    /// Hashes of every version sent with this nonce (replacements bump fees), newest last.
    pub hashes: Vec<B256>,
    /// The newest version, signed, for rebroadcasting.
    pub raw: Bytes,
    /// First L2 block of its batch.
    pub first: u64,
    /// Last L2 block of its batch.
    pub last: u64,
    /// Its frame index and the batch's frame count.
    pub frame: u16,
    /// Frames of the batch.
    pub frames: u16,
    /// Max fee and priority fee of the newest version.
    pub max_fee: u128,
    /// Priority fee of the newest version.
    pub tip: u128,
    /// When the newest version was sent (seconds since the epoch).
    pub sent_at: u64,
    /// Transactions in the batch (for its log line).
    #[serde(default)]
    pub txs: u64,
    /// Encoded transaction bytes of the batch's blocks.
    #[serde(default)]
    pub raw_bytes: u64,
    /// Size of the encoded batch.
    #[serde(default)]
    pub compressed_bytes: u64,
}

/// The persisted progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The last L2 block known committed on L1 with enough confirmations.
    pub posted: u64,
    /// Transactions sent and not yet confirmed.
    pub in_flight: Vec<InFlight>,
}

impl Progress {
    fn path(dir: &Path) -> PathBuf {
        dir.join("batcher-progress.json")
    }

    /// Loads the progress in `dir` (empty when there is none yet).
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn load(dir: &Path) -> BatcherResult<Self> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| BatcherError::Progress {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(BatcherError::Progress {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes the progress atomically and durably (temporary file, fsync, rename).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, dir: &Path) -> BatcherResult<()> {
        let path = Self::path(dir);
        let err = |e: std::io::Error| BatcherError::Progress {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join("batcher-progress.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| BatcherError::Progress {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&tmp).map_err(err)?;
            file.write_all(&bytes).map_err(err)?;
            file.sync_all().map_err(err)?;
        }
        std::fs::rename(&tmp, &path).map_err(err)?;
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Progress::load(dir.path()).unwrap(), Progress::default());
        let progress = Progress {
            posted: 7,
            in_flight: vec![InFlight {
                nonce: 3,
                hashes: vec![B256::repeat_byte(1)],
                raw: Bytes::from_static(&[1, 2, 3]),
                first: 8,
                last: 12,
                frame: 0,
                frames: 2,
                max_fee: 10,
                tip: 1,
                sent_at: 99,
                txs: 10,
                raw_bytes: 1000,
                compressed_bytes: 600,
            }],
        };
        progress.save(dir.path()).unwrap();
        assert_eq!(Progress::load(dir.path()).unwrap(), progress);
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("batcher-progress.json"), b"{not json").unwrap();
        assert!(Progress::load(dir.path()).is_err());
    }
}
