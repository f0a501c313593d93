set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch9_recurrent.png"
set title "LSTM recurrent weight gradient error vs sequence length"
set xlabel "time steps"
set ylabel "relative error of the gradient"
set grid
set key inside top left box opaque
set logscale x 2
set format x '2^{%L}'
set logscale y
set format y '10^{%L}'
plot "docs/precision_lab/data/ch9_recurrent.dat" index 0 using 1:2 with linespoints title "bf16 tape of steps", \
     "docs/precision_lab/data/ch9_recurrent.dat" index 1 using 1:2 with linespoints title "bf16 one node, summed in float", \
     "docs/precision_lab/data/ch9_recurrent.dat" index 2 using 1:2 with linespoints title "fp16 tape of steps", \
     "docs/precision_lab/data/ch9_recurrent.dat" index 3 using 1:2 with linespoints title "fp16 one node, summed in float"
