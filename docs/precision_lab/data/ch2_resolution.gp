set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch2_resolution.png"
set title "Spacing of representable numbers (ulp) per binade"
set xlabel "value (start of the binade)"
set ylabel "ulp (spacing)"
set grid
set key inside top left box opaque
set logscale x 2
set format x '2^{%L}'
set logscale y
set format y '10^{%L}'
set arrow from 2**-14, graph 0 to 2**-14, graph 1 nohead dt 2
set label 'fp16 smallest normal 2^{-14}' at 2**-14, graph 0.92 offset 0.5,0
plot "docs/precision_lab/data/ch2_resolution.dat" index 0 using 1:2 with steps title "fp16", \
     "docs/precision_lab/data/ch2_resolution.dat" index 1 using 1:2 with steps title "bf16"
