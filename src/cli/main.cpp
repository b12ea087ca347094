// xai: explain image classifiers (src/cli/run.cpp has the command line).
#include "cli/commands.hpp"

int main(int argc, char** argv) { xai::cli::exit_process(xai::cli::run(argc, argv)); }
