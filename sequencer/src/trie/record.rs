//! The unit the trie persists: a branch node, optionally behind an extension, stored at the
//! nibble path where it starts. Leaves are not records: a branch keeps, for each leaf child,
//! the leaf's full key and its node reference, and the leaf's value lives in the flat state.

use alloy_primitives::{B256, keccak256};
use alloy_rlp::Encodable;
use alloy_trie::{
    EMPTY_ROOT_HASH, Nibbles, TrieMask,
    nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode},
};

use super::TrieError;

/// What sits at one position of the trie: nothing, a leaf, or a stored record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChildRef {
    /// No node.
    #[default]
    Empty,
    /// A leaf node: its full 32-byte key and its reference (hash, or the RLP when under 32 bytes).
    Leaf {
        /// The full (hashed) key of the leaf.
        key: B256,
        /// `rlp(node)` if shorter than 32 bytes, else `rlp(keccak(rlp(node)))`.
        node: RlpNode,
    },
    /// A record stored at this position (a branch, possibly behind an extension).
    Node(RlpNode),
}

impl ChildRef {
    /// Whether nothing is here.
    pub const fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The node reference a parent branch embeds for this child.
    fn rlp_node(&self) -> Option<&RlpNode> {
        match self {
            Self::Empty => None,
            Self::Leaf { node, .. } | Self::Node(node) => Some(node),
        }
    }

    /// The hash of this position taken as a trie root: the empty root, or keccak of the node
    /// (a root is always hashed, even when its RLP is shorter than 32 bytes).
    pub fn root_hash(&self) -> B256 {
        match self.rlp_node() {
            None => EMPTY_ROOT_HASH,
            Some(node) => node.as_hash().unwrap_or_else(|| keccak256(node.as_slice())),
        }
    }

    /// Builds the reference of a leaf whose node starts after `depth` nibbles of `key`.
    pub fn leaf(key: B256, depth: usize, value: &[u8], buf: &mut Vec<u8>) -> Self {
        let suffix = Nibbles::unpack(key).slice(depth..);
        buf.clear();
        let node = LeafNodeRef::new(&suffix, value).rlp(buf);
        Self::Leaf { key, node }
    }
}

/// A branch node, optionally behind an extension, as stored at the path where it starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// The extension's nibbles (empty when the branch starts right at the record's path).
    pub ext: Nibbles,
    /// The branch's sixteen children.
    pub children: [ChildRef; 16],
}

impl Record {
    /// Number of non-empty children.
    pub fn child_count(&self) -> usize {
        self.children.iter().filter(|c| !c.is_empty()).count()
    }

    /// RLP of the branch node alone (without the extension).
    ///
    /// Encodes only: alloy-trie's `rlp()` would also hash the node, and hashing is the larger
    /// part of a state root's cost, so callers hash once, where they need the reference.
    pub fn branch_rlp(&self, buf: &mut Vec<u8>) {
        let mut stack: [RlpNode; 16] = Default::default();
        let mut present = 0;
        let mut mask = TrieMask::default();
        for (i, child) in self.children.iter().enumerate() {
            if let Some(node) = child.rlp_node() {
                stack[present] = node.clone();
                present += 1;
                mask.set_bit(i as u8);
            }
        }
        buf.clear();
        BranchNodeRef::new(&stack[..present], mask).encode(buf);
    }

    /// RLP of the extension node in front of the branch; only meaningful when `ext` is set.
    pub fn extension_rlp(&self, branch: &RlpNode, buf: &mut Vec<u8>) {
        buf.clear();
        ExtensionNodeRef::new(&self.ext, branch).encode(buf);
    }

    /// The reference a parent embeds for this record (hash of the top node, or its RLP).
    pub fn node_ref(&self, buf: &mut Vec<u8>) -> RlpNode {
        self.branch_rlp(buf);
        let branch = RlpNode::from_rlp(buf);
        if self.ext.is_empty() {
            return branch;
        }
        self.extension_rlp(&branch, buf);
        RlpNode::from_rlp(buf)
    }

    /// Serialises the record for the store.
    ///
    /// Layout: `ext_len u8 | ext packed | child_mask u16 | leaf_mask u16 |` then per present
    /// child in nibble order: `[key 32 bytes if leaf] | ref_len u8 | ref`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 16 * 66);
        out.push(self.ext.len() as u8);
        out.extend_from_slice(&self.ext.pack());
        let (mut child_mask, mut leaf_mask) = (0u16, 0u16);
        for (i, child) in self.children.iter().enumerate() {
            match child {
                ChildRef::Empty => {}
                ChildRef::Leaf { .. } => {
                    child_mask |= 1 << i;
                    leaf_mask |= 1 << i;
                }
                ChildRef::Node(_) => child_mask |= 1 << i,
            }
        }
        out.extend_from_slice(&child_mask.to_be_bytes());
        out.extend_from_slice(&leaf_mask.to_be_bytes());
        for child in &self.children {
            match child {
                ChildRef::Empty => {}
                ChildRef::Leaf { key, node } => {
                    out.extend_from_slice(key.as_slice());
                    out.push(node.len() as u8);
                    out.extend_from_slice(node);
                }
                ChildRef::Node(node) => {
                    out.push(node.len() as u8);
                    out.extend_from_slice(node);
                }
            }
        }
        out
    }

    /// Parses a stored record, straight into its box: a record is over a kilobyte, and the
    /// trie walk reads tens of thousands per block, so it is built in place, never moved.
    ///
    /// # Errors
    /// [`TrieError::CorruptRecord`] when the bytes are not a record this module wrote.
    pub fn decode(bytes: &[u8]) -> Result<Box<Self>, TrieError> {
        let mut rd = Reader(bytes);
        let ext_len = rd.u8()? as usize;
        if ext_len > 63 {
            return Err(TrieError::CorruptRecord("extension longer than a key"));
        }
        let packed = rd.take(ext_len.div_ceil(2))?;
        let mut record = Box::<Self>::default();
        record.ext = Nibbles::unpack(packed);
        record.ext.truncate(ext_len);
        let child_mask = u16::from_be_bytes(rd.array()?);
        let leaf_mask = u16::from_be_bytes(rd.array()?);
        for (i, child) in record.children.iter_mut().enumerate() {
            if child_mask & (1 << i) == 0 {
                continue;
            }
            let key = (leaf_mask & (1 << i) != 0).then(|| rd.array::<32>()).transpose()?;
            let len = rd.u8()? as usize;
            let node = RlpNode::from_raw(rd.take(len)?)
                .ok_or(TrieError::CorruptRecord("node reference longer than 33 bytes"))?;
            *child = match key {
                Some(key) => ChildRef::Leaf { key: B256::from(key), node },
                None => ChildRef::Node(node),
            };
        }
        if !rd.0.is_empty() {
            return Err(TrieError::CorruptRecord("trailing bytes"));
        }
        Ok(record)
    }
}

/// Serialises a root reference (what sits at the empty path) for the store.
pub fn encode_root(root: &ChildRef) -> Vec<u8> {
    let mut out = Vec::with_capacity(67);
    match root {
        ChildRef::Empty => out.push(0),
        ChildRef::Leaf { key, node } => {
            out.push(1);
            out.extend_from_slice(key.as_slice());
            out.extend_from_slice(node);
        }
        ChildRef::Node(node) => {
            out.push(2);
            out.extend_from_slice(node);
        }
    }
    out
}

/// Parses a stored root reference.
///
/// # Errors
/// [`TrieError::CorruptRecord`] for bytes [`encode_root`] did not write.
pub fn decode_root(bytes: &[u8]) -> Result<ChildRef, TrieError> {
    let bad = TrieError::CorruptRecord("root reference");
    let (&tag, rest) = bytes.split_first().ok_or(TrieError::CorruptRecord("empty root"))?;
    Ok(match tag {
        0 if rest.is_empty() => ChildRef::Empty,
        1 if rest.len() > 32 => ChildRef::Leaf {
            key: B256::from_slice(&rest[..32]),
            node: RlpNode::from_raw(&rest[32..]).ok_or(bad)?,
        },
        2 => ChildRef::Node(RlpNode::from_raw(rest).ok_or(bad)?),
        _ => return Err(bad),
    })
}

/// A bounds-checked cursor over a record's bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TrieError> {
        if self.0.len() < n {
            return Err(TrieError::CorruptRecord("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TrieError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TrieError> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let mut buf = Vec::new();
        let mut rec = Record { ext: Nibbles::from_nibbles([1, 2, 3]), ..Default::default() };
        rec.children[3] = ChildRef::leaf(B256::repeat_byte(0x31), 5, b"value", &mut buf);
        rec.children[9] = ChildRef::Node(RlpNode::word_rlp(&B256::repeat_byte(7)));
        let decoded = Record::decode(&rec.encode()).unwrap();
        assert_eq!(*decoded, rec);
        assert_eq!(decoded.child_count(), 2);
    }

    #[test]
    fn root_round_trips() {
        let mut buf = Vec::new();
        for root in [
            ChildRef::Empty,
            ChildRef::leaf(B256::repeat_byte(1), 0, &[0x80], &mut buf),
            ChildRef::Node(RlpNode::word_rlp(&B256::repeat_byte(2))),
        ] {
            assert_eq!(decode_root(&encode_root(&root)).unwrap(), root);
        }
    }

    #[test]
    fn corrupt_records_are_errors() {
        for bytes in [&[][..], &[70], &[0, 0xff, 0xff, 0, 0], &[0, 0, 1, 0, 0, 40]] {
            assert!(Record::decode(bytes).is_err(), "{bytes:?}");
        }
        assert!(decode_root(&[9]).is_err());
    }
}
