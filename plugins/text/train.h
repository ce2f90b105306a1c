/* plugins/text/train.h - learning BPE merges from a corpus.
 *
 * The documents are pre-tokenized with the tokenizer's splitter and counted
 * as unique words; merges are learned over the words, never across piece
 * boundaries. The algorithm is the incremental one of Hugging Face
 * tokenizers' BpeTrainer: global pair counts, a max-heap of pairs with lazy
 * re-checking, and an index pair -> words containing it, so each merge only
 * touches the words where it happens.
 *
 * Deterministic: the most frequent pair wins; ties go to the smaller pair
 * (first id, then second id). Merging scans a word left to right, so "aaa"
 * with the merge (a, a) becomes "aa a". The merged token gets the next id,
 * which is also its rank; when its bytes already are a token (built by
 * another pair), that id is reused and the vocabulary does not grow. */
#ifndef MMGEN_TEXT_TRAIN_H
#define MMGEN_TEXT_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mmgen/plugin.h"
#include "pretokenize.h"
#include "vocab.h"

/* Fills an empty `v` with the 256 bytes (id = byte value) and learned merges
 * until it holds `n_tokens` tokens or no pair occurs `min_frequency` times.
 * Special tokens are the caller's to add afterwards. */
int txt_train(txt_vocab *v, txt_splitter split, const mmg_plugin_document *docs, size_t n_docs,
              int32_t n_tokens, int64_t min_frequency);

#endif /* MMGEN_TEXT_TRAIN_H */
