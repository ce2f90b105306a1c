//! The quantizer: bins learned from training values, and its saved form.
//!
//! `fit` sorts every training value and cuts the sorted list into at most N
//! runs of equal length (quantiles), moving each cut to a change of value so
//! that equal values share a bin. Bin k covers [edge k, edge k+1):
//! edge 0 is the smallest training value, edge N the largest (the last bin
//! includes it). A value below edge 0 or above edge N falls into the first
//! or last bin. Each bin's value, what decode writes, is the mean of the
//! training values in it (clamped into them), so it lies inside the bin and
//! encodes back to the same bin.
//!
//! Quantile bins give every bin about the same number of training values:
//! the model's tokens are equally frequent, and bins are narrow where the
//! series spends its time.

use crate::abi::{MMG_ERR_FORMAT, MMG_ERR_NOMEM};
use crate::config::{Column, MAX_BINS, MAX_NAME_BYTES};
use crate::host::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct BinTable {
    /// N + 1 bounds: edges[0] < edges[1] < ... < edges[N-1] <= edges[N].
    edges: Vec<f64>,
    /// N representatives: edges[k] <= values[k] < edges[k+1] (<= for the last).
    values: Vec<f64>,
}

impl BinTable {
    /// Learns at most `max_bins` bins from `sorted` (ascending, finite, not
    /// empty).
    pub fn fit(sorted: &[f64], max_bins: usize) -> BinTable {
        let m = sorted.len();
        debug_assert!(m > 0 && max_bins > 0);
        // starts[k]: index in `sorted` of bin k's first value. Each cut splits
        // what is left evenly among the bins still to make, so a run of equal
        // values that swallows a cut does not cost a bin.
        let mut starts = vec![0usize];
        while starts.len() < max_bins {
            let start = *starts.last().unwrap();
            let bins_left = max_bins - starts.len() + 1;
            let cut = start + ((m - start) / bins_left).max(1);
            if cut >= m {
                break;
            }
            let v = sorted[cut];
            let mut end = sorted.partition_point(|&x| x < v);
            if end <= start {
                // sorted[start..=cut] are all equal: they end the bin together
                end = sorted.partition_point(|&x| x <= v);
            }
            if end >= m {
                break;
            }
            starts.push(end);
        }
        let n = starts.len();
        let mut edges: Vec<f64> = starts.iter().map(|&i| sorted[i]).collect();
        edges.push(sorted[m - 1]);
        let values = (0..n)
            .map(|k| {
                let run = &sorted[starts[k]..if k + 1 < n { starts[k + 1] } else { m }];
                let mean = run.iter().sum::<f64>() / run.len() as f64;
                // A sum that overflows falls back to the median.
                let v = if mean.is_finite() {
                    mean
                } else {
                    run[run.len() / 2]
                };
                v.max(run[0]).min(run[run.len() - 1])
            })
            .collect();
        BinTable { edges, values }
    }

    pub fn n_bins(&self) -> usize {
        self.values.len()
    }

    /// The bin a value falls in; values outside the fitted range go to the
    /// first or last bin.
    pub fn bin_of(&self, x: f64) -> usize {
        let n = self.n_bins();
        self.edges[1..n].partition_point(|&e| e <= x)
    }

    pub fn value(&self, bin: usize) -> f64 {
        self.values[bin]
    }

    /// [low, high) of a bin (the last one's high is included).
    pub fn bounds(&self, bin: usize) -> (f64, f64) {
        (self.edges[bin], self.edges[bin + 1])
    }

    pub fn fitted_range(&self) -> (f64, f64) {
        (self.edges[0], self.edges[self.n_bins()])
    }
}

// ---- the saved state ---------------------------------------------------------
//
// Little-endian, version 1:
//
//   offset      size         field
//   0           8            magic "MMGTSBIN"
//   8           4            u32 format version (1)
//   12          4            u32 N, number of bins (1..65536)
//   16          4            u32 column number (1-based; 0: by name, or the last)
//   20          4            u32 L, length of the column name (0: none)
//   24          L            the column name, UTF-8
//   24+L        8 (N+1)      f64 edges, as described on BinTable
//   32+L+8N     8 N          f64 bin values
//
// The column travels with the bins so that a state is self-contained: a
// tokenizer created without a config reads documents as the fitted one did.
// Every field is checked on load; any inconsistency is MMG_ERR_FORMAT.

pub const STATE_MAGIC: &[u8; 8] = b"MMGTSBIN";
pub const STATE_VERSION: u32 = 1;
const HEADER_SIZE: usize = 24;

pub fn save_state(table: &BinTable, column: &Column) -> Result<Vec<u8>> {
    let (number, name) = match column {
        Column::Last => (0u32, &[][..]),
        Column::Number(k) => (*k, &[][..]),
        Column::Name(s) => (0u32, s.as_bytes()),
    };
    let n = table.n_bins();
    let size = HEADER_SIZE + name.len() + 8 * (2 * n + 1);
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(size).map_err(|_| {
        Error::new(
            MMG_ERR_NOMEM,
            format!("out of memory for a state of {} bytes", size),
        )
    })?;
    out.extend_from_slice(STATE_MAGIC);
    out.extend_from_slice(&STATE_VERSION.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(name);
    for x in table.edges.iter().chain(table.values.iter()) {
        out.extend_from_slice(&x.to_le_bytes());
    }
    debug_assert_eq!(out.len(), size);
    Ok(out)
}

fn state_error(why: String) -> Error {
    Error::new(MMG_ERR_FORMAT, format!("invalid timeseries state: {}", why))
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn f64_at(bytes: &[u8], at: usize) -> f64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    f64::from_le_bytes(b)
}

pub fn load_state(bytes: &[u8]) -> Result<(BinTable, Column)> {
    if bytes.len() < STATE_MAGIC.len() || &bytes[..8] != STATE_MAGIC {
        let head: Vec<String> = bytes.iter().take(8).map(|b| format!("{:02x}", b)).collect();
        return Err(Error::new(
            MMG_ERR_FORMAT,
            format!(
                "not a timeseries state: it starts with [{}], not the magic \"MMGTSBIN\" (a state \
                 saved by another plugin?)",
                head.join(" ")
            ),
        ));
    }
    if bytes.len() < HEADER_SIZE {
        return Err(state_error(format!(
            "truncated: {} bytes, shorter than its {}-byte header",
            bytes.len(),
            HEADER_SIZE
        )));
    }
    let version = u32_at(bytes, 8);
    if version != STATE_VERSION {
        return Err(state_error(format!(
            "format version {}; this plugin reads version {}",
            version, STATE_VERSION
        )));
    }
    let n = u32_at(bytes, 12) as usize;
    if n == 0 || n > MAX_BINS as usize {
        return Err(state_error(format!(
            "{} bins; a state has 1 to {}",
            n, MAX_BINS
        )));
    }
    let number = u32_at(bytes, 16);
    let name_len = u32_at(bytes, 20) as usize;
    if name_len > MAX_NAME_BYTES {
        return Err(state_error(format!(
            "a column name of {} bytes; at most {}",
            name_len, MAX_NAME_BYTES
        )));
    }
    let expected = HEADER_SIZE + name_len + 8 * (2 * n + 1);
    if bytes.len() != expected {
        return Err(state_error(format!(
            "{} bytes; {} bins and a {}-byte column name make {} ({})",
            bytes.len(),
            n,
            name_len,
            expected,
            if bytes.len() < expected {
                "truncated"
            } else {
                "trailing bytes"
            }
        )));
    }
    let column = match (number, name_len) {
        (0, 0) => Column::Last,
        (k, 0) => Column::Number(k),
        (0, _) => {
            let name = std::str::from_utf8(&bytes[HEADER_SIZE..HEADER_SIZE + name_len])
                .map_err(|_| state_error("the column name is not UTF-8".to_string()))?;
            Column::Name(name.to_string())
        }
        _ => {
            return Err(state_error(
                "both a column number and a column name".to_string(),
            ))
        }
    };
    let tables = HEADER_SIZE + name_len;
    let edges: Vec<f64> = (0..=n).map(|k| f64_at(bytes, tables + 8 * k)).collect();
    let values: Vec<f64> = (0..n)
        .map(|k| f64_at(bytes, tables + 8 * (n + 1 + k)))
        .collect();
    if let Some(k) = edges
        .iter()
        .chain(values.iter())
        .position(|x| !x.is_finite())
    {
        return Err(state_error(format!(
            "number {} of its tables is not finite",
            k
        )));
    }
    for k in 1..=n {
        let increasing = if k < n {
            edges[k - 1] < edges[k]
        } else {
            edges[k - 1] <= edges[k]
        };
        if !increasing {
            return Err(state_error(format!(
                "edge {} ({}) does not follow edge {} ({})",
                k,
                edges[k],
                k - 1,
                edges[k - 1]
            )));
        }
    }
    for (k, &v) in values.iter().enumerate() {
        let inside = edges[k] <= v
            && if k + 1 < n {
                v < edges[k + 1]
            } else {
                v <= edges[k + 1]
            };
        if !inside {
            return Err(state_error(format!(
                "the value {} of bin {} lies outside it [{}, {})",
                v,
                k,
                edges[k],
                edges[k + 1]
            )));
        }
    }
    Ok((BinTable { edges, values }, column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_bins_keep_equal_values_together() {
        let sorted = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let t = BinTable::fit(&sorted, 4);
        // the four 1.0 share bin 0; the other bins split what is left
        assert_eq!(t.edges, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(t.values, vec![1.0, 2.0, 3.0, 4.5]);
        assert_eq!(
            (
                t.bin_of(0.0),
                t.bin_of(1.0),
                t.bin_of(2.9),
                t.bin_of(3.0),
                t.bin_of(9.0)
            ),
            (0, 0, 1, 2, 3)
        );
        let even = BinTable::fit(&(0..100).map(f64::from).collect::<Vec<_>>(), 10);
        assert_eq!(even.n_bins(), 10);
        assert_eq!(even.bounds(3), (30.0, 40.0));
        for k in 0..t.n_bins() {
            assert_eq!(t.bin_of(t.value(k)), k);
        }
        let constant = BinTable::fit(&[7.0; 5], 16);
        assert_eq!((constant.n_bins(), constant.value(0)), (1, 7.0));
    }

    #[test]
    fn state_round_trip_and_validation() {
        let t = BinTable::fit(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 3);
        let col = Column::Name("close".into());
        let bytes = save_state(&t, &col).unwrap();
        assert_eq!(load_state(&bytes).unwrap(), (t.clone(), col));
        assert!(load_state(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .message
            .contains("truncated"));
        assert!(load_state(b"\x89PNG\r\n\x1a\n")
            .unwrap_err()
            .message
            .contains("not a timeseries state"));
        let mut bad = bytes.clone();
        bad[8] = 2;
        assert!(load_state(&bad).unwrap_err().message.contains("version 2"));
        let mut unsorted = save_state(&t, &Column::Last).unwrap();
        unsorted[HEADER_SIZE..HEADER_SIZE + 8].copy_from_slice(&10.0f64.to_le_bytes());
        assert!(load_state(&unsorted)
            .unwrap_err()
            .message
            .contains("does not follow"));
    }
}
