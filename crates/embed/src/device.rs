//! Compute device selection: `cpu`, `cuda` or `cuda:N`.

use crate::error::{EmbedError, Result};
use std::fmt;
use std::str::FromStr;

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    /// CUDA device by ordinal (needs the `cuda` cargo feature).
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = EmbedError;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Self::Cuda(n)),
                _ => Err(EmbedError::Device {
                    reason: format!("unknown device '{s}': use cpu, cuda or cuda:N"),
                }),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// The candle device; asking for CUDA in a build without the `cuda` feature is an error.
    pub fn to_candle(self) -> Result<candle_core::Device> {
        match self {
            Self::Cpu => Ok(candle_core::Device::Cpu),
            Self::Cuda(n) => {
                if !cfg!(feature = "cuda") {
                    return Err(EmbedError::Device {
                        reason: "this vsearch was built without CUDA: rebuild with `cargo build --release --features cuda`, or use --device cpu".into(),
                    });
                }
                candle_core::Device::new_cuda(n).map_err(|e| EmbedError::Device {
                    reason: format!("cannot open CUDA device {n}: {e}"),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("CUDA:2".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(2));
        assert!("tpu".parse::<DeviceSpec>().is_err());
    }

    #[test]
    #[cfg(not(feature = "cuda"))]
    fn cuda_without_feature_is_a_clear_error() {
        let err = DeviceSpec::Cuda(0).to_candle().unwrap_err().to_string();
        assert!(err.contains("--features cuda"), "{err}");
    }
}
