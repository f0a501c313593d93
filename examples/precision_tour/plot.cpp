#include "plot.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "halfgrad/core/error.h"

namespace hg::tour {

namespace {

bool have_gnuplot() {
  static const bool found = std::system("command -v gnuplot >/dev/null 2>&1") == 0;
  return found;
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\\\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string write_plot(const std::string& out_dir, const PlotSpec& spec) {
  namespace fs = std::filesystem;
  const fs::path data_dir = fs::path(out_dir) / "data";
  std::error_code made;
  fs::create_directories(data_dir, made);
  HG_CHECK(!made, "write_plot: cannot create ", data_dir.string(), " (", made.message(), ")");
  const fs::path dat = data_dir / (spec.name + ".dat");
  const fs::path script = data_dir / (spec.name + ".gp");
  const fs::path png = fs::path(out_dir) / (spec.name + ".png");
  {
    std::ofstream d(dat);
    d.precision(10);
    for (const Series& s : spec.series) {
      d << "# " << s.title << '\n';
      for (const auto& [x, y] : s.points) d << x << ' ' << y << '\n';
      d << "\n\n";  // gnuplot's block separator: "index i" picks series i
    }
  }
  {
    std::ofstream g(script);
    g << "set terminal pngcairo size 900,560 font 'Sans,11'\n"
      << "set output " << quoted(png.string()) << '\n'
      << "set title " << quoted(spec.title) << '\n'
      << "set xlabel " << quoted(spec.xlabel) << '\n'
      << "set ylabel " << quoted(spec.ylabel) << '\n'
      << "set grid\nset key " << spec.key << " box opaque\n";
    if (spec.logx) g << "set logscale x 2\nset format x '2^{%L}'\n";
    if (spec.logy) g << "set logscale y\nset format y '10^{%L}'\n";
    for (const std::string& line : spec.extra) g << line << '\n';
    g << "plot ";
    for (size_t i = 0; i < spec.series.size(); ++i) {
      g << (i ? ", \\\n     " : "") << quoted(dat.string()) << " index " << i << " using 1:2 with "
        << spec.series[i].style << " title " << quoted(spec.series[i].title);
    }
    g << '\n';
  }
  if (!have_gnuplot()) return "";
  const std::string command = "gnuplot " + quoted(script.string()) + " 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::fprintf(stderr, "plot %s: gnuplot failed (script %s)\n", spec.name.c_str(),
                 script.string().c_str());
    return "";
  }
  return png.string();
}

}  // namespace hg::tour
