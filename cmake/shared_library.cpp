// libxai.so: every object comes from the static library (linked whole); CMake needs one source per
// library target, and this is it.
