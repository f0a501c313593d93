#pragma once
// PNG plots through gnuplot (Debian's gnuplot-nox): each plot writes its data (NAME.dat, one
// block per series) and script (NAME.gp) under <out>/data/, then runs gnuplot to make
// <out>/NAME.png. Without gnuplot the data and scripts are still written and the tour says so;
// no plot is ever needed for a number the tour prints.
#include <string>
#include <utility>
#include <vector>

namespace hg::tour {

struct Series {
  std::string title;
  std::vector<std::pair<double, double>> points;
  std::string style = "linespoints";  // a gnuplot "with" clause: lines, boxes, ...
};

struct PlotSpec {
  std::string name;  // file stem
  std::string title, xlabel, ylabel;
  bool logx = false, logy = false;
  std::vector<std::string> extra;  // more gnuplot commands (arrows, ranges, labels)
  std::vector<Series> series;
  std::string key = "inside top left";  // gnuplot "set key" position
};

// Writes the plot; returns the PNG's path, or "" when gnuplot is missing or failed.
std::string write_plot(const std::string& out_dir, const PlotSpec& spec);

}  // namespace hg::tour
