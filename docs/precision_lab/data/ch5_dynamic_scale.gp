set terminal pngcairo size 900,560 font 'Sans,11'
set output "docs/precision_lab/ch5_dynamic_scale.png"
set title "Dynamic loss scale over training (fp16 O2, MNIST cnn)"
set xlabel "training step"
set ylabel "loss scale"
set grid
set key inside top left box opaque
set logscale y
set format y '10^{%L}'
set format y '2^{%L}'
set logscale y 2
set offsets graph 0, graph 0, graph 0.05, graph 0.05
plot "docs/precision_lab/data/ch5_dynamic_scale.dat" index 0 using 1:2 with steps lw 2 title "growth interval 2000 (PyTorch default)", \
     "docs/precision_lab/data/ch5_dynamic_scale.dat" index 1 using 1:2 with steps lw 2 title "growth interval 25"
