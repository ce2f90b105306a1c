'use strict';
// Loading libmmgen, checking its ABI, and turning statuses into MmgenError.
//
// The library comes from, in order: an explicit path given to load(), the
// MMGEN_LIB environment variable, or the system's library search for
// libmmgen.so.1 (the installed soname). Before any other call the library
// must serve the ABI this module was written against (mmg_abi_compatible,
// mmgen/version.h), and every struct this module mirrors must have the
// library's field offsets (mmgen/layout.h); a library that fails either check
// is refused with MmgenError(MMG_ERR_ABI), never called.
const koffi = require('koffi');
const S = require('./structs.js');

const ABI_MAJOR = 1;
const ABI_MINOR = 3; // the header version this module mirrors

// mmg_status values (mmgen/status.h): part of the ABI, never renumbered.
const STATUS_NAMES = ['MMG_OK', 'MMG_ERR_INVALID_ARG', 'MMG_ERR_NOMEM', 'MMG_ERR_IO',
  'MMG_ERR_FORMAT', 'MMG_ERR_UNSUPPORTED', 'MMG_ERR_PLUGIN', 'MMG_ERR_ABI', 'MMG_ERR_RANGE',
  'MMG_ERR_CONFIG', 'MMG_ERR_STATE', 'MMG_ERR_LIMIT', 'MMG_ERR_NUMERIC', 'MMG_ERR_CANCELLED',
  'MMG_ERR_NOT_FOUND', 'MMG_ERR_INTERNAL'];
const Status = Object.freeze(Object.fromEntries(STATUS_NAMES.map((n, i) => [n, i])));

/** A failed mmgen call: .status (the mmg_status number), .statusName
 * ("MMG_ERR_IO"), .message (mmg_last_error's text: what went wrong) and
 * .doing (what this module was doing). */
class MmgenError extends Error {
  constructor(status, message, doing) {
    const statusName = STATUS_NAMES[status] || 'MMG_UNKNOWN';
    const text = message ? `${statusName}: ${message}` : statusName;
    super(doing ? `${doing}: ${text}` : text);
    this.name = 'MmgenError';
    this.status = status;
    this.statusName = statusName;
    this.lastError = message || ''; // mmg_last_error(), verbatim
    this.doing = doing || null;
  }
}

// The C functions this module calls, as in the headers. Handles are 'void *'
// (BigInt addresses); _Out_ pointers are filled through one-element arrays.
const VERSION_SIGNATURES = [
  'uint32_t mmg_abi_version(void)',
  'const char *mmg_version_string(void)',
  'int mmg_abi_compatible(uint32_t major, uint32_t minor)',
];
// layout.h (1.3): declared once the version check has passed, then used to
// check the struct mirrors before anything else is called.
const LAYOUT_SIGNATURES = [
  'size_t mmg_struct_size(const char *name)',
  'int64_t mmg_struct_field_offset(const char *name, const char *field)',
  'const char *mmg_struct_name_at(size_t index)',
];
const SIGNATURES = [
  'const char *mmg_status_name(int status)',
  'const char *mmg_last_error(void)',
  'int mmg_last_status(void)',
  'void mmg_clear_error(void)',
  'void mmg_free(void *p)',
  // plugin_host.h
  'int mmg_plugin_open(const char *name_or_path, _Out_ void **out)',
  'void mmg_plugin_close(void *plugin)',
  'const char *mmg_plugin_name(void *plugin)',
  'const char *mmg_plugin_version(void *plugin)',
  'const char *mmg_plugin_path(void *plugin)',
  'int32_t mmg_plugin_modality(void *plugin)',
  'const char *mmg_modality_name(int32_t modality)',
  // tokenizer.h
  'int mmg_tokenizer_create(void *plugin, const char *config, _Out_ void **out)',
  'const char *mmg_tokenizer_config(void *tok)',
  'void mmg_tokenizer_free(void *tok)',
  'void *mmg_tokenizer_plugin(void *tok)',
  'int mmg_tokenizer_fit(void *tok, void **docs, size_t *sizes, size_t n_docs)',
  'int mmg_tokenizer_encode(void *tok, const uint8_t *data, size_t size, _Out_ void **ids, _Out_ size_t *n_ids)',
  'int mmg_tokenizer_decode(void *tok, const int32_t *ids, size_t n_ids, _Out_ void **data, _Out_ size_t *size)',
  'int32_t mmg_tokenizer_vocab_size(void *tok)',
  'int mmg_tokenizer_special_token(void *tok, const char *name, _Out_ int32_t *id)',
  'int mmg_tokenizer_to_json(void *tok, _Out_ void **json)',
  'int mmg_tokenizer_from_json(const uint8_t *json, size_t size, _Out_ void **out)',
  'int mmg_model_tokenizer(void *model, const char *key, _Out_ void **out)',
  // model.h
  'void mmg_model_config_init(void *config, size_t struct_size)',
  'int mmg_model_config_to_json(void *config, _Out_ void **json)',
  'int mmg_model_load(const char *path, void *options, _Out_ void **out)',
  'void mmg_model_free(void *model)',
  'int mmg_model_get_config(void *model, void *config)',
  'uint64_t mmg_model_n_params(void *model)',
  'int mmg_model_load_memory(const uint8_t *data, size_t size, void *options, _Out_ void **out)',
  'size_t mmg_model_param_count(void *model)',
  'int mmg_model_param_info(void *model, size_t index, void *info)',
  'int mmg_model_param_find(void *model, const char *name, _Out_ size_t *index)',
  // float buffers are Float32Arrays, passed by address (koffi does not copy typed arrays)
  'int mmg_model_read_param(void *model, const char *name, float *dst, size_t n_elements)',
  'int mmg_model_write_param(void *model, const char *name, const float *src, size_t n_elements)',
  // context.h, sampling.h, generate.h
  'void mmg_context_options_init(void *opts, size_t struct_size)',
  'void mmg_model_options_init(void *opts, size_t struct_size)',
  'int mmg_context_create(void *model, void *opts, _Out_ void **out)',
  'void mmg_context_free(void *ctx)',
  'void mmg_sampling_options_init(void *opts, size_t struct_size)',
  'int mmg_sampling_options_validate(void *opts)',
  'void mmg_generate_options_init(void *opts, size_t struct_size)',
  'int mmg_generate(void *ctx, void *opts, int32_t n_sequences, void *sources, void *source_lengths,' +
    ' void *prompts, void *prompt_lengths, void *seeds, void *out_tokens, void *out_lengths)',
];

// Functions of later minors: name -> [signature, minor]. Declared on first
// use (optional()) when the library serves that minor; a call through an older
// library throws MMG_ERR_UNSUPPORTED naming the function.
const OPTIONAL_SIGNATURES = {
  // model.h, 1.6: weights as bytes in GGUF's layout
  mmg_weights_size: ['uint64_t mmg_weights_size(int32_t weights, uint64_t n_elements)', 6],
  mmg_quantize: ['int mmg_quantize(int32_t weights, const float *src, uint64_t n_elements, uint8_t *dst, ' +
    'size_t dst_size)', 6],
  mmg_dequantize: ['int mmg_dequantize(int32_t weights, const uint8_t *src, size_t src_size, float *dst, ' +
    'uint64_t n_elements)', 6],
  mmg_model_read_param_data: ['int mmg_model_read_param_data(void *model, const char *name, uint8_t *dst, ' +
    'size_t dst_size)', 6],
};

function nameOf(sig) {
  return sig.match(/([A-Za-z_0-9]+)\s*\(/)[1];
}

/** The file load() opens: `path`, else $MMGEN_LIB, else libmmgen.so.1. */
function findLibraryPath(path) {
  return path || process.env.MMGEN_LIB || 'libmmgen.so.1';
}

/** Throws MmgenError(MMG_ERR_ABI) unless `lib` serves headers of version
 * (major, minor): the same major and a minor at least as new. */
function checkAbi(lib, major = ABI_MAJOR, minor = ABI_MINOR) {
  if (!lib.mmg_abi_compatible(major, minor)) {
    const v = lib.mmg_abi_version();
    throw new MmgenError(Status.MMG_ERR_ABI,
      `libmmgen ${lib.mmg_version_string()} (ABI ${v >>> 16}.${v & 0xffff}) cannot serve ` +
      `this binding (ABI ${major}.${minor})`);
  }
}

/** The public structs the library describes (mmg_struct_name_at), in order. */
function libraryStructNames(lib) {
  const names = [];
  for (;;) {
    const n = lib.mmg_struct_name_at(names.length);
    if (n == null) return names;
    names.push(n);
  }
}

/** Throws MmgenError(MMG_ERR_ABI) naming the struct and field unless every
 * mirror (an object C name -> [koffi struct, header], structs.MIRRORS by
 * default) fits the library's layout (mmgen/layout.h): its size at most
 * mmg_struct_size(name) (a newer library may have appended fields) and each
 * field at mmg_struct_field_offset(name, field). */
function checkLayouts(lib, mirrors = S.MIRRORS) {
  const libText = `libmmgen ${lib.mmg_version_string()}`;
  const fail = (text) => { throw new MmgenError(Status.MMG_ERR_ABI, text); };
  for (const [cname, [mirror]] of Object.entries(mirrors)) {
    const size = Number(lib.mmg_struct_size(cname));
    if (size === 0) fail(`struct ${cname}: ${libText} does not know it (the binding mirrors it)`);
    if (koffi.sizeof(mirror) > size) {
      fail(`struct ${cname}: the binding's mirror has ${koffi.sizeof(mirror)} bytes, ${libText}'s ` +
        `struct only ${size}`);
    }
    for (const field of Object.keys(mirror.members)) {
      const want = Number(lib.mmg_struct_field_offset(cname, field));
      const have = koffi.offsetof(mirror, field);
      if (want !== have) {
        const where = want < 0 ? 'has no such field' : `has it at offset ${want}`;
        fail(`struct ${cname}, field ${field}: the binding's mirror has it at offset ${have}, ` +
          `${libText} ${where}`);
      }
    }
  }
}

/** Opens libmmgen (see findLibraryPath), checks its ABI version and the
 * struct mirrors before anything else, and declares every function this
 * module calls. */
function openLibrary(path) {
  const where = findLibraryPath(path);
  let handle;
  try {
    handle = koffi.load(where);
  } catch (e) {
    throw new MmgenError(Status.MMG_ERR_NOT_FOUND,
      `cannot load libmmgen from '${where}' (${e.message}); pass a path or set MMGEN_LIB`);
  }
  const lib = { path: where, handle };
  // The version functions exist in every 1.x; declare them before asking.
  for (const sig of VERSION_SIGNATURES) lib[nameOf(sig)] = handle.func(sig);
  checkAbi(lib);
  for (const sig of LAYOUT_SIGNATURES) lib[nameOf(sig)] = handle.func(sig);
  checkLayouts(lib);
  for (const sig of SIGNATURES) lib[nameOf(sig)] = handle.func(sig);
  return lib;
}

let current = null;

/** Makes the library at `path` (or the default one) the one every object of
 * this module uses from now on, and returns it. */
function load(path) {
  current = openLibrary(path);
  return current;
}

/** The library in use, opened on first use (see load). */
function get() {
  if (!current) current = openLibrary();
  return current;
}

/** lib's function `name` of OPTIONAL_SIGNATURES, declared on first use;
 * MmgenError(MMG_ERR_UNSUPPORTED) when the library is older than its minor. */
function optional(lib, name) {
  if (!lib[name]) {
    const [sig, minor] = OPTIONAL_SIGNATURES[name];
    if (!lib.mmg_abi_compatible(ABI_MAJOR, minor)) {
      throw new MmgenError(Status.MMG_ERR_UNSUPPORTED,
        `${name} needs libmmgen ABI ${ABI_MAJOR}.${minor}; this library is ${lib.mmg_version_string()}`);
    }
    lib[name] = lib.handle.func(sig);
  }
  return lib[name];
}

/** Throws MmgenError(MMG_ERR_ABI) unless each field of `mirror` (a koffi
 * struct mirroring C struct `cname` with fields a later minor appended) sits
 * where the library has it: checked when first used, as loading checks the
 * 1.3 mirrors. */
function checkFields(lib, cname, mirror) {
  for (const field of Object.keys(mirror.members)) {
    if (Number(lib.mmg_struct_field_offset(cname, field)) !== koffi.offsetof(mirror, field)) {
      throw new MmgenError(Status.MMG_ERR_ABI, `struct ${cname}, field ${field}: the library's offset ` +
        "differs from this module's");
    }
  }
}

/** Throws an MmgenError with this thread's mmg_last_error text unless OK. */
function check(lib, status, doing) {
  if (status !== Status.MMG_OK) throw new MmgenError(status, lib.mmg_last_error() || '', doing);
}

module.exports = {
  ABI_MAJOR, ABI_MINOR, STATUS_NAMES, Status, MmgenError,
  findLibraryPath, checkAbi, checkLayouts, libraryStructNames, openLibrary, load, get, check,
  optional, checkFields,
};
