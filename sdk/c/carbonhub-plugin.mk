# carbonhub-plugin.mk — build a carbonhub calculation module in C, out of the carbonhub tree.
#
# In your Makefile, set the module, then include this file:
#
#     PLUGIN  := hedge                      # the module name (lib$(PLUGIN).so)
#     PROTO   := proto/hedge/v1/hedge.proto # your messages and service (package hedge.v1)
#     SOURCES := hedge_plugin.c
#     include $(shell carbonhub sdk path)/c/carbonhub-plugin.mk
#
# Targets: all (lib$(PLUGIN).so and its manifest), verify (the ABI contract and every example
# of examples/ against its .expect.json), sign (KEY=publisher.key), serve (this folder's
# modules on 127.0.0.1:8443 with a development certificate), clean.
#
# Needs: gcc (or CC), protoc, protoc-c and libprotobuf-c (Debian: protobuf-compiler,
# protobuf-c-compiler, libprotobuf-c-dev) and `carbonhub` (CARBONHUB=/path/to/carbonhub).
# The module reads and writes protobuf only (`.encodings = CARBON_ENCODINGS_PROTOBUF`): the
# host converts proto3 JSON callers' requests and the answers with the descriptor set built here.

CARBONHUB ?= carbonhub
CARBONHUB_SDK ?= $(shell $(CARBONHUB) sdk path)
CC ?= gcc
BUILD ?= build
PROTO_DIR ?= proto
EXAMPLES ?= examples
LIB := lib$(PLUGIN).so
PB_C := $(BUILD)/$(patsubst $(PROTO_DIR)/%.proto,%.pb-c.c,$(PROTO))
CARBONHUB_CFLAGS := -O2 -fPIC -fvisibility=hidden -Wall -Wextra -std=c11 -D_GNU_SOURCE \
  -I$(CARBONHUB_SDK)/include -I$(BUILD)

all: $(LIB)

# The FileDescriptorSet the host serves reflection from and converts JSON with.
$(BUILD)/descriptor_set.binpb: $(PROTO)
	mkdir -p $(BUILD)
	protoc --include_imports --descriptor_set_out=$@ -I$(PROTO_DIR) $(PROTO)

$(BUILD)/descriptor_set.h: $(BUILD)/descriptor_set.binpb
	$(CARBONHUB) sdk embed $< $(PLUGIN)_descriptor_set > $@

$(PB_C): $(PROTO)
	mkdir -p $(BUILD)
	protoc --c_out=$(BUILD) -I$(PROTO_DIR) $(PROTO)

# -l:libprotobuf-c.so.1: Debian's static libprotobuf-c.a is not position-independent.
$(LIB): $(SOURCES) $(PB_C) $(BUILD)/descriptor_set.h
	$(CC) $(CARBONHUB_CFLAGS) $(CFLAGS) -shared -o $@ $(SOURCES) $(PB_C) -l:libprotobuf-c.so.1 $(LDLIBS)
	$(CARBONHUB) plugin manifest $@ $(if $(KEY),--publisher $(basename $(notdir $(KEY))))

verify: $(LIB)
	$(CARBONHUB) verify ./$(LIB) --samples $(EXAMPLES)

sign: $(LIB)
	$(if $(KEY),,$(error sign: give KEY=path/to/publisher.key (carbonhub plugin keygen --out publisher)))
	$(CARBONHUB) plugin manifest $(LIB) --publisher $(basename $(notdir $(KEY)))
	$(CARBONHUB) plugin sign --key $(KEY) $(LIB)

serve: $(LIB)
	$(CARBONHUB) serve --plugins $(CURDIR)

clean:
	rm -rf $(BUILD) $(LIB) $(LIB).manifest.json $(LIB).manifest.sig

.PHONY: all verify sign serve clean
