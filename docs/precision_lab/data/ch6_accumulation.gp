set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch6_accumulation.png"
set title "Dot product of fp16 vectors: relative error vs length"
set xlabel "length n"
set ylabel "relative error"
set grid
set key inside top left box opaque
set logscale x 2
set format x '2^{%L}'
set logscale y
set format y '10^{%L}'
plot "docs/precision_lab/data/ch6_accumulation.dat" index 0 using 1:2 with linespoints title "fp16 accumulator (products rounded to fp16)", \
     "docs/precision_lab/data/ch6_accumulation.dat" index 1 using 1:2 with linespoints title "fp32 accumulator (exact fp16 products)", \
     "docs/precision_lab/data/ch6_accumulation.dat" index 2 using 1:2 with linespoints title "halfgrad matmul on fp16 tensors (fp32 accumulate)"
