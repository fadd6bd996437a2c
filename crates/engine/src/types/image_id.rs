//! [`ImageId`]: how an image is named in queries and answers.

use serde::{Deserialize, Serialize};

/// An image's id: a number in a local collection (stable while its path stays), a UUID in a Qdrant
/// collection (its point id, derived from the file's content hash and path). In JSON, a number or a
/// string, as Qdrant writes point ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ImageId {
    Number(u64),
    Uuid(uuid::Uuid),
}

impl ImageId {
    /// The number of a local collection's id.
    pub fn number(self) -> Option<u64> {
        match self {
            ImageId::Number(n) => Some(n),
            ImageId::Uuid(_) => None,
        }
    }
}

impl From<u64> for ImageId {
    fn from(n: u64) -> Self {
        ImageId::Number(n)
    }
}

impl From<uuid::Uuid> for ImageId {
    fn from(u: uuid::Uuid) -> Self {
        ImageId::Uuid(u)
    }
}

impl PartialEq<u64> for ImageId {
    fn eq(&self, other: &u64) -> bool {
        *self == ImageId::Number(*other)
    }
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageId::Number(n) => write!(f, "{n}"),
            ImageId::Uuid(u) => write!(f, "{u}"),
        }
    }
}

impl std::str::FromStr for ImageId {
    type Err = String;
    /// A number, or a UUID (`8c3c...-...`).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(n) = s.parse::<u64>() {
            return Ok(ImageId::Number(n));
        }
        s.parse::<uuid::Uuid>().map(ImageId::Uuid).map_err(|_| {
            format!("`{s}` is not an image id: a whole number (local collections) or a UUID (Qdrant collections)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_print_as_numbers_or_uuids() {
        assert_eq!("42".parse::<ImageId>(), Ok(ImageId::Number(42)));
        let u = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(
            u.parse::<ImageId>().map(|i| i.to_string()),
            Ok(u.to_string())
        );
        assert!("x".parse::<ImageId>().is_err());
        assert_eq!(
            serde_json::to_string(&ImageId::Number(7)).ok(),
            Some("7".into())
        );
        let back: Option<ImageId> = serde_json::from_str(&format!("\"{u}\"")).ok();
        assert_eq!(back.map(|i| i.to_string()), Some(u.to_string()));
    }
}
