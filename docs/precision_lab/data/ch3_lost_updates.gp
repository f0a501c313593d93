set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch3_lost_updates.png"
set title "Share of nonzero updates that left the fp16 weight unchanged"
set xlabel "training step"
set ylabel "lost / updated elements"
set grid
set key inside bottom right box opaque
set yrange [0:1]
plot "docs/precision_lab/data/ch3_lost_updates.dat" index 0 using 1:2 with lines title "fp16 O3, dynamic loss scale", \
     "docs/precision_lab/data/ch3_lost_updates.dat" index 1 using 1:2 with lines title "fp16 O2, dynamic loss scale", \
     "docs/precision_lab/data/ch3_lost_updates.dat" index 2 using 1:2 with lines title "fp16 O3, dynamic loss scale, lr 0.0005", \
     "docs/precision_lab/data/ch3_lost_updates.dat" index 3 using 1:2 with lines title "fp16 O2, dynamic loss scale, lr 0.0005"
