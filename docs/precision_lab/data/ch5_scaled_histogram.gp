set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch5_scaled_histogram.png"
set title "Activation gradients at step 78, unscaled and scaled"
set xlabel "log2 |scaled gradient| (binade)"
set ylabel "% of all values"
set grid
set key inside right center box opaque
set arrow from -24, graph 0 to -24, graph 1 nohead lw 2 lc rgb 'red'
set label 'fp16 smallest subnormal 2^{-24}' at -24, graph 0.96 right offset -0.5,0 tc rgb 'red'
set arrow from -14, graph 0 to -14, graph 1 nohead dt 2 lc rgb 'red'
set label 'smallest normal 2^{-14}' at -14, graph 0.90 left offset 0.5,0 tc rgb 'red'
set arrow from 16, graph 0 to 16, graph 1 nohead lw 2 lc rgb 'red'
set label '65504' at 16, graph 0.96 right offset -0.5,0 tc rgb 'red'
set xrange [-60:20]
set style fill transparent solid 0.35
plot "docs/precision_lab/data/ch5_scaled_histogram.dat" index 0 using 1:2 with steps lw 2 title "unscaled", \
     "docs/precision_lab/data/ch5_scaled_histogram.dat" index 1 using 1:2 with steps lw 2 title "x 8", \
     "docs/precision_lab/data/ch5_scaled_histogram.dat" index 2 using 1:2 with steps lw 2 title "x 2^{13} (dynamic scale)"
