set terminal svg size 800,500 dynamic enhanced font 'sans,12' background rgb 'white'
set output '/root/out/bench.svg'
set title "mpsmig bench on GPU-bb86edd7-a5ce-02c4-9bae-b3e9880653a3\n400 kernels of 8x128 threads a client, 1000000 cycles each"
set xlabel 'clients at once (N)'
set ylabel 'kernels per second, all clients'
set key top left
set grid
set logscale x 2
set xtics ('1' 1, '2' 2, '4' 4, '8' 8, '16' 16, '32' 32)
$data << EOD
1 1972.785 1973.632 1972.785
2 3942.246 2223.136 3945.571
4 7865.075 2223.507 7891.142
8 15679.050 2223.570 15782.283
16 31102.990 2097.392 31564.567
32 22252.356 1970.947 63129.134
EOD
plot $data using 1:4 with lines dashtype 2 linewidth 2 title 'N x one client alone', \
     $data using 1:2 with linespoints linewidth 2 pointtype 7 title 'through MPS', \
     $data using 1:3 with linespoints linewidth 2 pointtype 5 title 'time-sliced (no MPS)'
