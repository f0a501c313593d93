set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch8_attention.png"
set title "Attention output error under autocast vs the scores' scale"
set xlabel "query scale s (score standard deviation)"
set ylabel "relative error of the output"
set grid
set key inside top left box opaque
set logscale x 2
set format x '2^{%L}'
set logscale y
set format y '10^{%L}'
plot "docs/precision_lab/data/ch8_attention.dat" index 0 using 1:2 with linespoints title "bf16 composite (scores rounded)", \
     "docs/precision_lab/data/ch8_attention.dat" index 1 using 1:2 with linespoints title "bf16 fused (scores in float)", \
     "docs/precision_lab/data/ch8_attention.dat" index 2 using 1:2 with linespoints title "fp16 composite (scores rounded)", \
     "docs/precision_lab/data/ch8_attention.dat" index 3 using 1:2 with linespoints title "fp16 fused (scores in float)"
