//! Which JSON-RPC namespaces the node serves (`--http.api`, as geth's flag of that name).
//!
//! A sequencer with a public endpoint wants wallets' methods (`eth`, `net`, `web3`) and may not
//! want to dump its pool's content and status on request (`txpool`) or run traces for anyone
//! (`debug`). A namespace left out answers its methods as unknown (-32601), and `rpc_modules`
//! lists only what is served (with `rpc` itself, as geth lists it).
//!
//! What `eth` serves stays whole: pending transactions still show through
//! `eth_subscribe("newPendingTransactions")` and pending-transaction filters, as on geth, and
//! the dev accounts' signing methods (`eth_sign`, `eth_sendTransaction`, …) follow `eth`, not
//! `personal`.

use std::{collections::BTreeSet, fmt, str::FromStr};

/// One namespace `--http.api` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// `eth_*`, with `eth_subscribe` and the dev accounts' signing methods.
    Eth,
    /// `net_*`.
    Net,
    /// `web3_*`.
    Web3,
    /// `txpool_*`: the pool's content.
    Txpool,
    /// `debug_*`: traces and raw encodings.
    Debug,
    /// `personal_sign` for the dev accounts (their `eth_sign*` methods are `eth`'s).
    Personal,
}

impl Namespace {
    /// Every namespace, in the order `rpc_modules` lists them.
    pub const ALL: [Self; 6] =
        [Self::Eth, Self::Net, Self::Web3, Self::Txpool, Self::Debug, Self::Personal];

    /// The method prefix, without its underscore.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Eth => "eth",
            Self::Net => "net",
            Self::Web3 => "web3",
            Self::Txpool => "txpool",
            Self::Debug => "debug",
            Self::Personal => "personal",
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Namespace {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Self::ALL.into_iter().find(|ns| ns.name().eq_ignore_ascii_case(wanted)).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|ns| ns.name()).collect();
            format!("unknown namespace {wanted:?}; known: {}", known.join(", "))
        })
    }
}

/// The namespaces a node serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces(BTreeSet<Namespace>);

impl Namespaces {
    /// These namespaces.
    pub fn new(namespaces: impl IntoIterator<Item = Namespace>) -> Self {
        Self(namespaces.into_iter().collect())
    }

    /// Whether `namespace` is served.
    pub fn contains(&self, namespace: Namespace) -> bool {
        self.0.contains(&namespace)
    }

    /// The served namespaces, in [`Namespace::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = Namespace> + '_ {
        self.0.iter().copied()
    }
}

/// Every namespace: a devnet serves what anvil and hardhat serve.
impl Default for Namespaces {
    fn default() -> Self {
        Self::new(Namespace::ALL)
    }
}

impl fmt::Display for Namespaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Namespace::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_unknown_ones_list_the_known() {
        assert_eq!("ETH".parse::<Namespace>(), Ok(Namespace::Eth));
        assert_eq!(" txpool ".parse::<Namespace>(), Ok(Namespace::Txpool));
        let err = "admin".parse::<Namespace>().unwrap_err();
        assert!(
            err.contains("\"admin\"") && err.contains("eth, net, web3, txpool, debug, personal")
        );
        for ns in Namespace::ALL {
            assert_eq!(ns.name().parse::<Namespace>(), Ok(ns));
        }
    }

    #[test]
    fn a_set_keeps_the_documented_order() {
        let set = Namespaces::new([Namespace::Debug, Namespace::Eth, Namespace::Web3]);
        assert_eq!(set.to_string(), "eth,web3,debug");
        assert!(set.contains(Namespace::Eth) && !set.contains(Namespace::Txpool));
        assert_eq!(Namespaces::default().to_string(), "eth,net,web3,txpool,debug,personal");
    }
}
