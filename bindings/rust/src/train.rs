//! Training a model in place on a token sequence (mmgen/train.h): packed
//! windows from the tokens, the hand-written backward, AdamW.
use std::mem;
use std::path::Path;
use std::ptr::{self, NonNull};

use crate::error::{check, Error, Result, Status};
use crate::model::Model;
use crate::{cstring, path_cstring, sys};

/// A trainer's options: the loader's (`batch_size`, `seq_len`, `seed`) and
/// the commonly changed fields of `mmg_train_options`; `Default` is the
/// library's defaults (batch 8, sequence 256, learning rate 1e-3, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOptions {
    /// Sequences per batch; default 8.
    pub batch_size: i32,
    /// Tokens per row (windows of seq_len + 1 tokens); default 256.
    pub seq_len: i32,
    /// Seeds the window shuffling and dropout; default 0.
    pub seed: u64,
    /// Peak learning rate; default 1e-3.
    pub learning_rate: f32,
    /// Linear warm-up steps; default 0.
    pub warmup_steps: i64,
    /// Cosine decay ends here; 0: constant after warm-up (default).
    pub decay_steps: i64,
    /// Decoupled weight decay; default 0.01.
    pub weight_decay: f32,
    /// Global-norm clipping; 0 = off; default 1.
    pub grad_clip: f32,
    /// Steps per optimizer update; default 1.
    pub grad_accum_steps: i32,
    /// Dropout probability; default 0.
    pub dropout: f32,
    /// 0: `$MMGEN_NUM_THREADS`, else the cores; results do not depend on it.
    pub n_threads: i32,
}

impl Default for TrainOptions {
    fn default() -> TrainOptions {
        TrainOptions {
            batch_size: 8,
            seq_len: 256,
            seed: 0,
            learning_rate: 1e-3,
            warmup_steps: 0,
            decay_steps: 0,
            weight_decay: 0.01,
            grad_clip: 1.0,
            grad_accum_steps: 1,
            dropout: 0.0,
            n_threads: 0,
        }
    }
}

/// Trains a model it borrows mutably (the library updates the weights in
/// place, so nothing else may use the model meanwhile; `model()` reads it).
/// Frees its trainer, loader and dataset on drop; the model keeps the
/// trained weights.
pub struct Trainer<'m> {
    model: &'m mut Model,
    dataset: NonNull<sys::mmg_dataset>,
    loader: Option<NonNull<sys::mmg_loader>>,
    trainer: Option<NonNull<sys::mmg_trainer>>,
}

// SAFETY: [one thread per object] for the trainer, loader and dataset.
unsafe impl Send for Trainer<'_> {}

impl<'m> Trainer<'m> {
    /// A trainer over `tokens` (each >= 0, at least seq_len + 1 of them).
    pub fn new(model: &'m mut Model, tokens: &[i32], options: &TrainOptions) -> Result<Trainer<'m>> {
        let mut ds = ptr::null_mut();
        let st = unsafe { sys::mmg_dataset_from_tokens(tokens.as_ptr(), tokens.len(), &mut ds) };
        check(st, || "making a dataset of the tokens".to_string())?;
        let dataset = NonNull::new(ds)
            .ok_or_else(|| Error::new(Status::INTERNAL, "mmg_dataset_from_tokens returned NULL", ""))?;
        // From here on Drop frees whatever was made.
        let mut t = Trainer { model, dataset, loader: None, trainer: None };

        let mut lo: sys::mmg_loader_options = unsafe { mem::zeroed() };
        unsafe { sys::mmg_loader_options_init(&mut lo, mem::size_of::<sys::mmg_loader_options>()) };
        lo.batch_size = options.batch_size;
        lo.seq_len = options.seq_len;
        lo.seed = options.seed;
        let mut loader = ptr::null_mut();
        let st = unsafe { sys::mmg_loader_create_packed(t.dataset.as_ptr(), &lo, &mut loader) };
        check(st, || "making a batch loader".to_string())?;
        t.loader = NonNull::new(loader);

        let mut to: sys::mmg_train_options = unsafe { mem::zeroed() };
        unsafe { sys::mmg_train_options_init(&mut to, mem::size_of::<sys::mmg_train_options>()) };
        to.learning_rate = options.learning_rate;
        to.warmup_steps = options.warmup_steps;
        to.decay_steps = options.decay_steps;
        to.weight_decay = options.weight_decay;
        to.grad_clip = options.grad_clip;
        to.grad_accum_steps = options.grad_accum_steps;
        to.dropout = options.dropout;
        to.seed = options.seed;
        to.n_threads = options.n_threads;
        let mut tr = ptr::null_mut();
        let st = unsafe { sys::mmg_trainer_create(t.model.raw(), &to, &mut tr) };
        check(st, || "creating a trainer".to_string())?;
        t.trainer = NonNull::new(tr);
        Ok(t)
    }

    fn raw(&self) -> *mut sys::mmg_trainer {
        self.trainer.expect("a constructed Trainer has its trainer").as_ptr()
    }

    /// The model being trained, for reading (parameters, config).
    pub fn model(&self) -> &Model {
        self.model
    }

    /// One batch forward and backward (an optimizer update every
    /// grad_accum_steps): its mean cross-entropy loss. `MMG_ERR_NUMERIC`
    /// (no update applied) for a NaN or infinite loss or gradient.
    pub fn step(&mut self) -> Result<f32> {
        let loader = self.loader.expect("a constructed Trainer has its loader").as_ptr();
        let mut batch = ptr::null();
        check(unsafe { sys::mmg_loader_next(loader, &mut batch) }, || "reading the next batch".to_string())?;
        let mut loss = 0f32;
        check(unsafe { sys::mmg_trainer_step(self.raw(), batch, &mut loss) }, || "training step".to_string())?;
        Ok(loss)
    }

    /// Optimizer updates applied so far.
    pub fn steps_done(&self) -> i64 {
        unsafe { sys::mmg_trainer_steps_done(self.raw()) }
    }

    /// The learning rate of the next update.
    pub fn learning_rate(&self) -> f32 {
        unsafe { sys::mmg_trainer_learning_rate(self.raw()) }
    }

    /// The global gradient norm (before clipping) of the last update.
    pub fn last_grad_norm(&self) -> f32 {
        unsafe { sys::mmg_trainer_last_grad_norm(self.raw()) }
    }

    /// The gradient of parameter `name` that the last update applied (after
    /// clipping; zeros before the first step), shaped as `read_param`.
    pub fn read_grad(&self, name: &str) -> Result<Vec<f32>> {
        let info = self.model.param_info(self.model.find_param(name)?)?;
        let mut v = vec![0f32; info.n_elements];
        self.read_grad_into(name, &mut v)?;
        Ok(v)
    }

    /// Copies the gradient of `name` into `dst`, which must hold exactly the
    /// parameter's element count (else `MMG_ERR_RANGE` naming the shape).
    pub fn read_grad_into(&self, name: &str, dst: &mut [f32]) -> Result<()> {
        let c = cstring(name, "parameter name")?;
        let st = unsafe { sys::mmg_trainer_read_grad(self.raw(), c.as_ptr(), dst.as_mut_ptr(), dst.len()) };
        check(st, || format!("reading the gradient of {:?}", name))
    }

    /// Saves a resumable checkpoint (weights, AdamW moments, counters, the
    /// loader's position) to `path`, atomically.
    pub fn save_checkpoint(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let c = path_cstring(path)?;
        let loader = self.loader.map_or(ptr::null(), |l| l.as_ptr() as *const _);
        check(unsafe { sys::mmg_trainer_save(self.raw(), loader, c.as_ptr()) }, || {
            format!("saving a checkpoint to {}", path.display())
        })
    }
}

impl Drop for Trainer<'_> {
    fn drop(&mut self) {
        // The order train.h asks: trainer, then the loader, then its dataset.
        unsafe {
            if let Some(t) = self.trainer.take() {
                sys::mmg_trainer_free(t.as_ptr());
            }
            if let Some(l) = self.loader.take() {
                sys::mmg_loader_free(l.as_ptr());
            }
            sys::mmg_dataset_free(self.dataset.as_ptr());
        }
    }
}
