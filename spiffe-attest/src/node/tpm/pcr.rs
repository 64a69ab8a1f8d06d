//! Which PCRs a quote covers.

use super::TpmError;

/// PCRs 0 to 23 supported by every PC-client TPM.
const PCR_COUNT: u8 = 24;

/// A set of PCR indices (0 to 23) of the SHA-256 bank, to be quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcrSelection {
    mask: u32,
}

// === impl PcrSelection ===

impl PcrSelection {
    /// The PCRs with these indices; each must be below 24, and at least one is needed.
    pub fn new(indices: impl IntoIterator<Item = u8>) -> Result<Self, TpmError> {
        let mut mask = 0u32;
        for i in indices {
            if i >= PCR_COUNT {
                return Err(TpmError::Config("PCR index above 23"));
            }
            mask |= 1 << i;
        }
        match mask {
            0 => Err(TpmError::Config("empty PCR selection")),
            mask => Ok(Self { mask }),
        }
    }

    /// The selected indices, ascending (the order of a quote's PCR digest).
    pub fn indices(&self) -> impl Iterator<Item = u8> + '_ {
        (0..PCR_COUNT).filter(|i| self.mask & (1 << i) != 0)
    }

    pub(crate) fn mask(&self) -> u32 {
        self.mask
    }

    pub(crate) fn from_mask(mask: u32) -> Option<Self> {
        (mask != 0 && mask >> PCR_COUNT == 0).then_some(Self { mask })
    }

    /// From a `TPMS_PCR_SELECTION` bitmap: byte `i`, bit `j` selects PCR `8i + j`.
    pub(crate) fn from_bitmap(bitmap: &[u8]) -> Option<Self> {
        let mut mask = 0u32;
        for (i, byte) in bitmap.iter().enumerate() {
            if *byte != 0 {
                if i >= usize::from(PCR_COUNT / 8) {
                    return None;
                }
                mask |= u32::from(*byte) << (8 * i);
            }
        }
        Self::from_mask(mask)
    }
}

impl Default for PcrSelection {
    /// PCRs 0 to 7: firmware, option ROMs, boot loader and their configuration.
    fn default() -> Self {
        Self { mask: 0xff }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_forms_agree() {
        let s = PcrSelection::new([0, 7, 16, 23]).ok();
        assert_eq!(
            s.map(|s| s.indices().collect::<Vec<_>>()),
            Some(vec![0, 7, 16, 23])
        );
        assert_eq!(PcrSelection::from_bitmap(&[0x81, 0, 0x81]), s);
        assert_eq!(PcrSelection::from_bitmap(&[0, 0, 0, 1]), None);
        assert_eq!(
            PcrSelection::from_bitmap(&[0xff, 0, 0, 0]),
            Some(PcrSelection::default())
        );
        assert!(PcrSelection::new([24]).is_err());
        assert!(PcrSelection::new([]).is_err());
    }
}
