/* Test fixture: a shared library that is not a carbonhub plugin (no carbon_plugin_entry). */
__attribute__((visibility("default"))) int some_other_library_function(void) { return 42; }
