//! The kinds of dataset `--dataset` names, and the forms its argument takes (for parsing and for messages).

/// The kinds of dataset `--dataset` names, `NAME[:ARGUMENTS]`: the one list the parser and its messages read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    Collection,
    FashionMnist,
    Fvecs,
    /// The neural-embedding set (`crate::neural_set`).
    Lite0FashionMnist,
    Synthetic,
}

impl DatasetKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [DatasetKind; 5] = [
        DatasetKind::Collection,
        DatasetKind::FashionMnist,
        DatasetKind::Fvecs,
        DatasetKind::Lite0FashionMnist,
        DatasetKind::Synthetic,
    ];

    /// The name before the `:`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Collection => "collection",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Fvecs => "fvecs",
            DatasetKind::Lite0FashionMnist => "lite0-fashion-mnist",
            DatasetKind::Synthetic => "synthetic",
        }
    }

    /// What follows the name.
    pub fn arguments(self) -> &'static str {
        match self {
            DatasetKind::Collection => ":PATH",
            DatasetKind::FashionMnist => "[:DIR]",
            DatasetKind::Fvecs => ":BASE,QUERY[,GT]",
            DatasetKind::Lite0FashionMnist => "[:N]",
            DatasetKind::Synthetic => ":N,D,CLUSTERS",
        }
    }

    /// The kind called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Every form a `--dataset` argument takes, for messages:
/// `collection:PATH, fashion-mnist[:DIR], fvecs:BASE,QUERY[,GT], lite0-fashion-mnist[:N] or synthetic:N,D,CLUSTERS`.
pub fn dataset_forms() -> String {
    let forms: Vec<String> = DatasetKind::ALL
        .iter()
        .map(|k| format!("{}{}", k.name(), k.arguments()))
        .collect();
    match forms.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => forms.concat(),
    }
}
