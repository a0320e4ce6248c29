#include <iostream>
#include <string>
#include <vector>

#include "cmds/binderctl/binderctl.h"

int main(int argc, char** argv) {
  return nb::binderctl::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
