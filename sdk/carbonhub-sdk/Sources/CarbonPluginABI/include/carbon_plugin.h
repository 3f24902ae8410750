/*
** carbon_plugin.h — the binary contract between the carbonhub host and a calculation module.
**
** A module is a shared library (.so) whose entry point is one C symbol:
**
**     const carbon_plugin_descriptor *carbon_plugin_entry(void);
**
** It is the only symbol the host looks up. A C module defines it with CARBON_PLUGIN_EXPORT,
** which this header also puts on the prototype below, and builds with -fvisibility=hidden so
** that nothing else is exported; a Swift module's entry is exported by the kit.
** The host dlopen()s the library (RTLD_NOW | RTLD_LOCAL), looks up that symbol, calls it once
** and reads the static descriptor it returns. Everything else the host learns about the module
** (its name, version, methods, protobuf schema) and every call it makes goes through that
** descriptor. Nothing else is shared: requests and responses cross the boundary as protobuf (or
** proto3 JSON) bytes, never as language objects, so host and module may be built by different
** compilers, at different times, in different languages.
**
** This header is the single source of truth of the ABI. It has no dependency beyond the C
** standard library.
**
** ---------------------------------------------------------------------------------------------
** EVOLUTION RULE
**
**   CARBON_PLUGIN_ABI_VERSION is bumped on any change that is not purely additive at the end of
**   carbon_plugin_descriptor. The host refuses a module whose abi_version differs from its own,
**   with a message that names both versions. Additive changes (new fields appended to the
**   descriptor) keep the version and are detected by `struct_size`: a host reads a field only
**   if offsetof(field) + sizeof(field) <= struct_size. Existing fields never move, never change
**   type and never change meaning. (One re-declaration, December 2026: carbon_method.kind and
**   carbon_call_result.status, declared with their enum types until then, are uint32_t: the
**   same 4 bytes and values on every platform the host runs on, checked at compile time; only
**   a module built with -fshort-enums had a different layout, and it now has the documented one.)
**
** OWNERSHIP
**
**   - Everything reachable from the descriptor (strings, the method table, the descriptor set)
**     is owned by the module and must stay valid and unchanged from the first call to
**     carbon_plugin_entry() until the library is unloaded. The host never frees it.
**   - Buffers the host passes in (config, data_dir, method path, request bytes) are owned by
**     the host and valid only for the duration of the call that receives them. A module that
**     wants to keep them copies them.
**   - Buffers the module returns through carbon_call_result (response, error_message,
**     error_field) and through initialize()'s error_message_out are allocated by the module and
**     released by the host by calling the descriptor's free_buffer() exactly once, on the same
**     module. The host never passes them to its own free().
**   - Bytes passed to an emit callback are owned by the module and valid only until the
**     callback returns; the host copies what it keeps.
**   - Bytes a receive callback hands to the module are owned by the host and valid until the
**     next receive or the end of call_bidi(); the module copies what it keeps.
**
** THREAD-SAFETY
**
**   - carbon_plugin_entry() may be called from any thread, possibly more than once; it must
**     return the same pointer every time and have no other effect.
**   - initialize() is called once per instance, from one thread, before any call() on that instance.
**   - call() and call_bidi() may be called concurrently from any number of threads on the same
**     instance. A module that keeps mutable state protects it itself.
**   - shutdown() is called once per instance, after every call() and call_bidi() on it has
**     returned, and none on that instance follows.
**   - free_buffer() may be called from any thread, concurrently.
**
** ERRORS
**
**   A module never aborts, exits or lets an exception (C++, Swift error, trap) escape across this
**   boundary on bad input: it returns a status. Status values equal gRPC status codes one to one
**   and the host forwards them to the remote caller unchanged, with error_message as the gRPC
**   status message. For CARBON_STATUS_INVALID_ARGUMENT the module sets error_field to the path of
**   the offending field in the request, e.g. "farms[3].years[2].inputs[0].quantity".
** ---------------------------------------------------------------------------------------------
*/
#ifndef CARBON_PLUGIN_H
#define CARBON_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. A module stores it in its descriptor's abi_version. */
#define CARBON_PLUGIN_ABI_VERSION 1u

/** The name of the one symbol a module exports. */
#define CARBON_PLUGIN_ENTRY_SYMBOL "carbon_plugin_entry"

/** Marks the entry point exported, whatever the module's default visibility:
**     CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void) { ... } */
#if defined(_WIN32)
#define CARBON_PLUGIN_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define CARBON_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define CARBON_PLUGIN_EXPORT
#endif

/**
** Outcome of initialize() and call(). Values are the gRPC status codes; the host maps them 1:1.
*/
typedef enum carbon_status {
  CARBON_STATUS_OK = 0,
  CARBON_STATUS_CANCELLED = 1,
  CARBON_STATUS_UNKNOWN = 2,
  /** The request is malformed or a field is invalid; error_field names it. */
  CARBON_STATUS_INVALID_ARGUMENT = 3,
  CARBON_STATUS_DEADLINE_EXCEEDED = 4,
  CARBON_STATUS_NOT_FOUND = 5,
  CARBON_STATUS_ALREADY_EXISTS = 6,
  CARBON_STATUS_PERMISSION_DENIED = 7,
  CARBON_STATUS_RESOURCE_EXHAUSTED = 8,
  /** The request is well formed but a rule of the method refuses it (error_field may name it). */
  CARBON_STATUS_FAILED_PRECONDITION = 9,
  CARBON_STATUS_ABORTED = 10,
  CARBON_STATUS_OUT_OF_RANGE = 11,
  /** The method path is not one the module serves. */
  CARBON_STATUS_UNIMPLEMENTED = 12,
  /** A defect in the module; the message says what. */
  CARBON_STATUS_INTERNAL = 13,
  CARBON_STATUS_UNAVAILABLE = 14,
  CARBON_STATUS_DATA_LOSS = 15,
  CARBON_STATUS_UNAUTHENTICATED = 16
} carbon_status;

/** How request and response bytes are encoded. */
typedef enum carbon_encoding {
  /** Protobuf binary wire format of the method's request/response messages. */
  CARBON_ENCODING_PROTOBUF = 0,
  /** Proto3 JSON mapping of the same messages, UTF-8, not NUL-terminated. */
  CARBON_ENCODING_JSON = 1
} carbon_encoding;

/** Bits of carbon_plugin_descriptor.encodings: which encodings a module's call() and
** call_bidi() accept. */
enum {
  CARBON_ENCODINGS_PROTOBUF = 1u << 0,
  CARBON_ENCODINGS_JSON = 1u << 1
};

/** How a method answers. */
typedef enum carbon_method_kind {
  /** One request, one response (returned in carbon_call_result.response). */
  CARBON_METHOD_UNARY = 0,
  /** One request, zero or more responses passed to the emit callback, then a final status. */
  CARBON_METHOD_SERVER_STREAMING = 1,
  /** A stream of requests pulled through the receive callback, zero or more responses passed
  ** to the emit callback, then a final status (gRPC bidirectional streaming). Served by the
  ** descriptor's call_bidi(), never by call(). Lets a client send a batch of any size in
  ** pieces while the module answers as it goes, so neither side holds the whole batch. A host
  ** that predates this kind refuses a module declaring it (unknown kind), never miscalls it. */
  CARBON_METHOD_BIDI_STREAMING = 2
} carbon_method_kind;

/** One method a module serves. */
typedef struct carbon_method {
  /** Full gRPC path, NUL-terminated: "/<package>.<Service>/<Method>". Module-owned, static. */
  const char *path;
  /** A carbon_method_kind: unary, server-streaming or bidirectional-streaming. A fixed-width
  ** integer, so that the layout does not depend on the compiler's enum size (-fshort-enums):
  ** the same 4 bytes as the carbon_method_kind it was declared as until this header's
  ** revision of December 2026, same values. */
  uint32_t kind;
} carbon_method;

/**
** What call() reports back. The host zero-initialises it before the call; the module fills it.
** Every non-NULL pointer in it is module-allocated and released by the host with free_buffer().
*/
typedef struct carbon_call_result {
  /** Final status of the call: a carbon_status (a fixed-width integer, as carbon_method.kind).
  ** The host reads a value that no carbon_status has as CARBON_STATUS_UNKNOWN. */
  uint32_t status;
  /** Unary OK: the encoded response message (may be NULL with length 0 for an empty message).
  ** Streaming: unused (NULL). Error: unused (NULL). */
  uint8_t *response;
  /** Length of response in bytes. */
  size_t response_length;
  /** Error: a NUL-terminated UTF-8 message for the caller (NULL on OK). */
  char *error_message;
  /** INVALID_ARGUMENT / FAILED_PRECONDITION: NUL-terminated path of the offending field or
  ** the rule that refused the request, e.g. "farms[0].yield_kg_per_ha" (NULL if none). */
  char *error_field;
} carbon_call_result;

/**
** Callback through which a server-streaming method hands out its responses, one encoded message
** per invocation, in order. Called on the thread that runs call(), synchronously.
**
**   emit_context  the opaque pointer the host passed to call().
**   message       the encoded response message; module-owned, valid until the callback returns.
**   length        its length in bytes.
**
** Returns 0 to continue. A non-zero return means the host no longer wants responses (the client
** went away or cancelled): the module stops producing, releases what it holds and returns from
** call() promptly with CARBON_STATUS_CANCELLED. The callback may block for flow control: the
** host uses that to keep memory flat when the client reads slower than the module produces.
*/
typedef int (*carbon_emit_fn)(void *emit_context, const uint8_t *message, size_t length);

/** What a carbon_emit_fn returns. */
enum {
  /** The response was taken: produce the next one. */
  CARBON_EMIT_CONTINUE = 0,
  /** The host wants no more responses: stop and return CARBON_STATUS_CANCELLED. (A module
  ** treats any non-zero value so.) */
  CARBON_EMIT_STOP = 1
};

/**
** Callback through which a bidirectional-streaming method pulls its requests, one encoded
** message per invocation, in the order the client sent them. Called on the thread that runs
** call_bidi(), synchronously; it blocks until the next request arrives. The host reads from the
** client only as fast as the module pulls, so a slow module paces its client and memory stays
** flat however long the stream.
**
**   receive_context  the opaque pointer the host passed to call_bidi().
**   message_out      receives the encoded request: host-owned, valid until the next call of
**                    receive or until call_bidi() returns, whichever comes first. Set to NULL
**                    (with length 0) when the return value is not 1.
**   length_out       receives its length in bytes (0 is a valid, empty message).
**
** Returns CARBON_RECEIVE_MESSAGE (1) when a request was received; CARBON_RECEIVE_END (0) when
** the client has sent its last request (the module finishes its work, emits what remains and
** returns its status); CARBON_RECEIVE_CANCELLED (-1) when the host no longer wants the call
** (the client went away or cancelled, the deadline passed, or the client's request stream
** failed): the module releases what it holds and returns promptly with
** CARBON_STATUS_CANCELLED. After END or CANCELLED, further calls return the same value.
*/
typedef int (*carbon_receive_fn)(void *receive_context, const uint8_t **message_out, size_t *length_out);

/** What a carbon_receive_fn returns (see there). */
enum {
  CARBON_RECEIVE_MESSAGE = 1,
  CARBON_RECEIVE_END = 0,
  CARBON_RECEIVE_CANCELLED = -1
};

/**
** Callback through which a call asks whether the host still wants its answer (see the
** descriptor's call_cancellable()).
**
**   cancel_context  the opaque pointer the host passed with it.
**
** Returns 0 while the call is wanted; 1 once the caller went away or cancelled, or the call's
** deadline passed (then it keeps returning 1). Cheap (an atomic load): a module may ask between
** any two steps of its work. Called on the thread that runs the call.
*/
typedef int (*carbon_cancelled_fn)(void *cancel_context);

/** The signature of the descriptor's call_cancellable() (documented there). */
typedef void (*carbon_call_cancellable_fn)(void *instance, const char *method_path, carbon_encoding encoding,
                                           const uint8_t *request, size_t request_length, carbon_emit_fn emit,
                                           void *emit_context, carbon_cancelled_fn cancelled,
                                           void *cancel_context, carbon_call_result *result);

/** The signature of the descriptor's call_bidi() (documented there). */
typedef void (*carbon_call_bidi_fn)(void *instance, const char *method_path, carbon_encoding encoding,
                                    carbon_receive_fn receive, void *receive_context,
                                    carbon_emit_fn emit, void *emit_context,
                                    carbon_call_result *result);

/** The static description of a module, returned by carbon_plugin_entry(). */
typedef struct carbon_plugin_descriptor {
  /** Must equal CARBON_PLUGIN_ABI_VERSION of the header the module was built against. */
  uint32_t abi_version;
  /** sizeof(carbon_plugin_descriptor) as the module was compiled; see the evolution rule. */
  uint32_t struct_size;

  /** Module name, NUL-terminated, [a-z0-9-]+, unique in a deployment, e.g. "esca". */
  const char *name;
  /** Semantic version of the module, e.g. "1.2.0". */
  const char *version;
  /** One-line human description. */
  const char *description;

  /** The methods this module serves; method_count entries. */
  const carbon_method *methods;
  size_t method_count;

  /** Serialized google.protobuf.FileDescriptorSet of the module's .proto files, including
  ** their imports, so the host can serve gRPC reflection for services it never compiled. */
  const uint8_t *descriptor_set;
  size_t descriptor_set_length;

  /** Opaque pointer the module may use to find its own state from initialize(); the host passes it
  ** back to initialize() unchanged and never dereferences it. May be NULL. Module-owned, static. */
  void *module_data;

  /**
  ** Creates an instance.
  **   module_data                   this descriptor's module_data, unchanged.
  **   config_json / config_length  the module's `config` table of the deployment file as a JSON
  **                                 object, UTF-8, not NUL-terminated ("{}" when absent).
  **   data_dir                      NUL-terminated path of a directory private to this module,
  **                                 existing and writable; the module keeps its data there.
  **   instance_out                  receives the opaque instance passed to call()/shutdown().
  **   error_message_out             on failure, receives a module-allocated NUL-terminated
  **                                 message (released with free_buffer), or stays NULL.
  ** Returns CARBON_STATUS_OK, or an error status (typically INVALID_ARGUMENT for a bad config,
  ** FAILED_PRECONDITION for an unusable data directory). On failure the host marks the module
  ** failed with that message and never calls call() or shutdown() on it.
  */
  carbon_status (*initialize)(void *module_data, const char *config_json, size_t config_length,
                        const char *data_dir, void **instance_out, char **error_message_out);

  /**
  ** Runs one method.
  **   instance        from initialize().
  **   method_path     NUL-terminated full gRPC path, one of `methods`.
  **   encoding        encoding of request and of every response.
  **   request         the encoded request message (may be NULL when request_length is 0).
  **   emit            for server-streaming methods: the callback that receives each response;
  **                   NULL for unary methods.
  **   emit_context    passed back to emit unchanged.
  **   result          zero-initialised by the host; the module fills it before returning.
  ** Must be safe to call concurrently. Never blocks indefinitely except inside emit.
  */
  void (*call)(void *instance, const char *method_path, carbon_encoding encoding,
               const uint8_t *request, size_t request_length, carbon_emit_fn emit,
               void *emit_context, carbon_call_result *result);

  /** Releases a buffer the module allocated (response, error_message, error_field, init's
  ** error message). NULL is a no-op. Thread-safe. */
  void (*free_buffer)(void *buffer);

  /** Releases an instance. Called once, after the last call() or call_bidi() on it has
  ** returned. */
  void (*shutdown)(void *instance);

  /* ---- Appended in ABI 1 without a version bump (see the evolution rule). A host reads the
  ** fields below only when struct_size covers them; a module built against an older copy of
  ** this header simply has none of them. */

  /**
  ** Runs one bidirectional-streaming method (kind CARBON_METHOD_BIDI_STREAMING).
  **   instance, method_path, encoding, result   as for call().
  **   receive, receive_context                  the request stream (see carbon_receive_fn);
  **                                             never NULL.
  **   emit, emit_context                        the response stream (see carbon_emit_fn);
  **                                             never NULL.
  ** Required (non-NULL) when any method is of kind CARBON_METHOD_BIDI_STREAMING: the host
  ** refuses a module that declares such a method without it. NULL otherwise. A request that
  ** fails to decode or validate ends the call with its status; error_field then names the
  ** field with the request's position in the stream, e.g. "requests[2].farms[0].bonus".
  ** Must be safe to call concurrently. Never blocks indefinitely except inside receive and emit.
  */
  carbon_call_bidi_fn call_bidi;

  /**
  ** The encodings call() and call_bidi() accept: CARBON_ENCODINGS_* bits. 0 (and a module
  ** built before this field) means both; a module must then read and write proto3 JSON as
  ** well as protobuf.
  ** CARBON_ENCODINGS_PROTOBUF alone: the host only ever calls the module with
  ** CARBON_ENCODING_PROTOBUF. For a caller that sends proto3 JSON (Host/Invoke, `carbonhub
  ** call`, `verify`), the host converts the request to protobuf with descriptor_set, and each
  ** response back to proto3 JSON (proto field names, defaults left out). So a C module needs
  ** only a protobuf library such as protobuf-c. A request that does not convert gets
  ** INVALID_ARGUMENT naming the field before the module is called. Map fields convert; the
  ** well-known types' JSON forms (Timestamp, Struct, wrappers…) do not.
  */
  uint32_t encodings;

  /**
  ** Runs one unary or server-streaming method as call() does, with a way to ask whether the
  ** host still wants the answer: a long calculation whose caller left, or whose deadline
  ** passed, can stop early and free its thread (the host has already answered the caller).
  **   instance … emit_context, result   as for call().
  **   cancelled, cancel_context           never NULL; see carbon_cancelled_fn. When it returns
  **                                       1, the module releases what it holds and returns
  **                                       CARBON_STATUS_CANCELLED.
  ** Optional. When non-NULL the host calls it instead of call() (call() must still be set, for
  ** hosts that predate this field); NULL: the host uses call(), and a unary call cannot learn
  ** that it was cancelled (a server-streaming one still learns it from emit). An isolated
  ** module's worker is killed when a call ignores its cancellation for 2 s past the deadline;
  ** a module that asks avoids that.
  ** Must be safe to call concurrently. Never blocks indefinitely except inside emit.
  */
  carbon_call_cancellable_fn call_cancellable;
} carbon_plugin_descriptor;

/** The signature of the entry symbol. */
typedef const carbon_plugin_descriptor *(*carbon_plugin_entry_fn)(void);

/** The entry point a module defines (the host looks it up by name, never links against it). */
CARBON_PLUGIN_EXPORT const carbon_plugin_descriptor *carbon_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* CARBON_PLUGIN_H */
