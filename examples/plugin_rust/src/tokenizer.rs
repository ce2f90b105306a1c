//! One tokenizer instance: its config, its learned bins, and the token
//! layout. Plain Rust, no pointers: lib.rs does the C side.
//!
//! Token ids, for N learned bins:
//!
//!   0 .. N-1   bin k: a value in bin k (ascending values)
//!   N          bos ("beginning of series"): the host frames documents with it
//!   N + 1      eos ("end of series")
//!
//! vocab_size is N + 2, or 0 before fit/load_state. encode never emits bos
//! or eos (plugin.h: no special token because of the content); decode skips
//! them.

use std::fmt::Write;

use crate::abi::{MMG_ERR_FORMAT, MMG_ERR_NOMEM, MMG_ERR_NOT_FOUND, MMG_ERR_RANGE, MMG_ERR_STATE};
use crate::bins::{self, BinTable};
use crate::config::{Column, Config};
use crate::csv;
use crate::host::{Error, Result};

pub struct Tokenizer {
    config: Config,
    table: Option<BinTable>,
}

/// What encode found besides the ids: values clamped into the end bins.
pub struct Encoded {
    pub ids: Vec<i32>,
    pub outside: usize,
}

impl Tokenizer {
    pub fn new(config: Config) -> Tokenizer {
        Tokenizer {
            config,
            table: None,
        }
    }

    fn table(&self) -> Result<&BinTable> {
        self.table.as_ref().ok_or_else(|| {
            Error::new(
                MMG_ERR_STATE,
                "the tokenizer has no bins yet: fit it on documents or load a saved state",
            )
        })
    }

    pub fn vocab_size(&self) -> i32 {
        self.table.as_ref().map_or(0, |t| t.n_bins() as i32 + 2)
    }

    fn bos(table: &BinTable) -> i32 {
        table.n_bins() as i32
    }

    fn eos(table: &BinTable) -> i32 {
        table.n_bins() as i32 + 1
    }

    /// Replaces the bins with ones learned from every value of `docs`.
    pub fn fit(&mut self, docs: &[&[u8]]) -> Result<String> {
        if docs.is_empty() {
            return Err(Error::new(
                MMG_ERR_FORMAT,
                "fit needs at least one document",
            ));
        }
        let mut all: Vec<f64> = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let values = csv::read_series(doc, &self.config.column).map_err(|e| {
                Error::new(
                    e.status,
                    format!("document {} of {}: {}", i + 1, docs.len(), e.message),
                )
            })?;
            all.try_reserve(values.len()).map_err(|_| {
                Error::new(
                    MMG_ERR_NOMEM,
                    "out of memory collecting the training values",
                )
            })?;
            all.extend_from_slice(&values);
        }
        all.sort_unstable_by(|a, b| a.total_cmp(b));
        let table = BinTable::fit(&all, self.config.bins as usize);
        let (lo, hi) = table.fitted_range();
        let fewer = if table.n_bins() < self.config.bins as usize {
            format!(
                " (of {} asked: the data has too few distinct values)",
                self.config.bins
            )
        } else {
            String::new()
        };
        let summary = format!(
            "fitted {} bins{} on {} values from {} documents, range [{}, {}]",
            table.n_bins(),
            fewer,
            all.len(),
            docs.len(),
            lo,
            hi
        );
        self.table = Some(table);
        Ok(summary)
    }

    pub fn encode(&self, doc: &[u8]) -> Result<Encoded> {
        let table = self.table()?;
        let values = csv::read_series(doc, &self.config.column)?;
        let (lo, hi) = table.fitted_range();
        let outside = values.iter().filter(|&&x| x < lo || x > hi).count();
        let ids = values.iter().map(|&x| table.bin_of(x) as i32).collect();
        Ok(Encoded { ids, outside })
    }

    pub fn decode(&self, ids: &[i32]) -> Result<Vec<u8>> {
        let table = self.table()?;
        let vocab = self.vocab_size();
        let mut out = String::new();
        let name = match &self.config.column {
            Column::Name(n) => Some(n.as_str()),
            _ => None,
        };
        csv::header_line(name, &mut out);
        // about 20 bytes a value; a failed reservation is a clean error
        out.try_reserve(ids.len().saturating_mul(20)).map_err(|_| {
            Error::new(
                MMG_ERR_NOMEM,
                format!("out of memory decoding {} ids", ids.len()),
            )
        })?;
        for (i, &id) in ids.iter().enumerate() {
            if id < 0 || id >= vocab {
                return Err(Error::new(
                    MMG_ERR_RANGE,
                    format!(
                        "token id {} at position {} is outside the vocabulary [0, {})",
                        id, i, vocab
                    ),
                ));
            }
            if (id as usize) < table.n_bins() {
                csv::push_value(table.value(id as usize), &mut out);
            }
        }
        Ok(out.into_bytes())
    }

    pub fn save_state(&self) -> Result<Vec<u8>> {
        bins::save_state(self.table()?, &self.config.column)
    }

    /// Takes the bins and the column from the state (it wins over the config:
    /// it says how the bins were fitted).
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<()> {
        let (table, column) = bins::load_state(bytes)?;
        self.table = Some(table);
        self.config.column = column;
        Ok(())
    }

    pub fn special_token(&self, name: &str) -> Result<i32> {
        let table = self.table()?;
        match name {
            "bos" => Ok(Self::bos(table)),
            "eos" => Ok(Self::eos(table)),
            _ => Err(Error::new(
                MMG_ERR_NOT_FOUND,
                format!(
                    "no special token {:?}: the timeseries tokenizer has \"bos\" and \"eos\"",
                    name
                ),
            )),
        }
    }

    /// "bin 7: [0.25, 0.5) -> 0.37"; the end bins add what else they take.
    pub fn describe(&self, id: i32) -> Result<String> {
        let vocab = self.vocab_size();
        if id < 0 || id >= vocab {
            return Err(Error::new(
                MMG_ERR_RANGE,
                format!("token id {} is outside the vocabulary [0, {})", id, vocab),
            ));
        }
        let table = self.table()?;
        let n = table.n_bins();
        let k = id as usize;
        if id == Self::bos(table) {
            return Ok("<bos>".to_string());
        }
        if id == Self::eos(table) {
            return Ok("<eos>".to_string());
        }
        let (lo, hi) = table.bounds(k);
        let close = if k + 1 == n { "]" } else { ")" };
        let (lo, hi, v) = (
            csv::number(lo),
            csv::number(hi),
            csv::number(table.value(k)),
        );
        let mut text = format!("bin {}: [{}, {}{} -> {}", k, lo, hi, close, v);
        let _ = match (k == 0, k + 1 == n) {
            (true, true) => write!(text, ", and anything lower or higher"),
            (true, false) => write!(text, ", and anything lower"),
            (false, true) => write!(text, ", and anything higher"),
            (false, false) => Ok(()),
        };
        Ok(text)
    }

    /// mmgen.constraint/1: a series has at least one value before eos, bos
    /// never appears inside it, and nothing but eos follows eos.
    pub fn allowed_next(&self, tokens: &[i32], allowed: &mut [u8]) -> Result<()> {
        let table = self.table()?;
        let (bos, eos) = (Self::bos(table) as usize, Self::eos(table) as usize);
        if tokens.last() == Some(&(eos as i32)) {
            for (id, a) in allowed.iter_mut().enumerate() {
                if id != eos {
                    *a = 0;
                }
            }
            return Ok(());
        }
        if let Some(a) = allowed.get_mut(bos) {
            *a = 0;
        }
        // Under this constraint the first token is a bin, so this stops there.
        let has_value = tokens
            .iter()
            .any(|&t| t >= 0 && (t as usize) < table.n_bins());
        if !has_value {
            if let Some(a) = allowed.get_mut(eos) {
                *a = 0;
            }
        }
        Ok(())
    }
}
