NAME        
ROWS
 N  Obj     
 L  supply#0
 G  need(D01)#1
 G  need(D02)#2
 G  need(D03)#3
 G  need(D04)#4
 G  need(D05)#5
 G  need(D06)#6
 G  need(D07)#7
 G  need(D08)#8
 G  need(D09)#9
 G  need(D10)#10
 G  need(D11)#11
 G  need(D12)#12
 G  need(D13)#13
 G  need(D14)#14
 G  need(D15)#15
 G  need(D16)#16
 G  need(D17)#17
 G  need(D18)#18
 G  need(D19)#19
 G  need(D20)#20
COLUMNS
    MARK0000  'MARKER'                 'INTORG'
    dose(D01)#0  Obj       1.105
    dose(D01)#0  supply#0  1
    dose(D01)#0  need(D01)#1  1
    dose(D02)#1  Obj       1.155
    dose(D02)#1  supply#0  1
    dose(D02)#1  need(D02)#2  1
    dose(D03)#2  Obj       1.2250000000000001
    dose(D03)#2  supply#0  1
    dose(D03)#2  need(D03)#3  1
    dose(D04)#3  Obj       1.2749999999999999
    dose(D04)#3  supply#0  1
    dose(D04)#3  need(D04)#4  1
    dose(D05)#4  Obj       1.7549999999999999
    dose(D05)#4  supply#0  1
    dose(D05)#4  need(D05)#5  1
    dose(D06)#5  Obj       2.1749999999999998
    dose(D06)#5  supply#0  1
    dose(D06)#5  need(D06)#6  1
    dose(D07)#6  Obj       2.4100000000000001
    dose(D07)#6  supply#0  1
    dose(D07)#6  need(D07)#7  1
    dose(D08)#7  Obj       3.0699999999999998
    dose(D08)#7  supply#0  1
    dose(D08)#7  need(D08)#8  1
    dose(D09)#8  Obj       3.79
    dose(D09)#8  supply#0  1
    dose(D09)#8  need(D09)#9  1
    dose(D10)#9  Obj       4.0099999999999998
    dose(D10)#9  supply#0  1
    dose(D10)#9  need(D10)#10  1
    dose(D11)#10  Obj       4.5600000000000005
    dose(D11)#10  supply#0  1
    dose(D11)#10  need(D11)#11  1
    dose(D12)#11  Obj       4.9649999999999999
    dose(D12)#11  supply#0  1
    dose(D12)#11  need(D12)#12  1
    dose(D13)#12  Obj       5.7700000000000005
    dose(D13)#12  supply#0  1
    dose(D13)#12  need(D13)#13  1
    dose(D14)#13  Obj       6.0450000000000008
    dose(D14)#13  supply#0  1
    dose(D14)#13  need(D14)#14  1
    dose(D15)#14  Obj       6.8900000000000006
    dose(D15)#14  supply#0  1
    dose(D15)#14  need(D15)#15  1
    dose(D16)#15  Obj       7.2100000000000009
    dose(D16)#15  supply#0  1
    dose(D16)#15  need(D16)#16  1
    dose(D17)#16  Obj       7.8250000000000002
    dose(D17)#16  supply#0  1
    dose(D17)#16  need(D17)#17  1
    dose(D18)#17  Obj       8.1900000000000013
    dose(D18)#17  supply#0  1
    dose(D18)#17  need(D18)#18  1
    dose(D19)#18  Obj       8.9150000000000009
    dose(D19)#18  supply#0  1
    dose(D19)#18  need(D19)#19  1
    dose(D20)#19  Obj       9.4450000000000003
    dose(D20)#19  supply#0  1
    dose(D20)#19  need(D20)#20  1
    MARK0001  'MARKER'                 'INTEND'
    short(D01)#20  Obj       20
    short(D01)#20  need(D01)#1  1
    short(D02)#21  Obj       20
    short(D02)#21  need(D02)#2  1
    short(D03)#22  Obj       20
    short(D03)#22  need(D03)#3  1
    short(D04)#23  Obj       20
    short(D04)#23  need(D04)#4  1
    short(D05)#24  Obj       20
    short(D05)#24  need(D05)#5  1
    short(D06)#25  Obj       20
    short(D06)#25  need(D06)#6  1
    short(D07)#26  Obj       20
    short(D07)#26  need(D07)#7  1
    short(D08)#27  Obj       20
    short(D08)#27  need(D08)#8  1
    short(D09)#28  Obj       20
    short(D09)#28  need(D09)#9  1
    short(D10)#29  Obj       20
    short(D10)#29  need(D10)#10  1
    short(D11)#30  Obj       20
    short(D11)#30  need(D11)#11  1
    short(D12)#31  Obj       20
    short(D12)#31  need(D12)#12  1
    short(D13)#32  Obj       20
    short(D13)#32  need(D13)#13  1
    short(D14)#33  Obj       20
    short(D14)#33  need(D14)#14  1
    short(D15)#34  Obj       20
    short(D15)#34  need(D15)#15  1
    short(D16)#35  Obj       20
    short(D16)#35  need(D16)#16  1
    short(D17)#36  Obj       20
    short(D17)#36  need(D17)#17  1
    short(D18)#37  Obj       20
    short(D18)#37  need(D18)#18  1
    short(D19)#38  Obj       20
    short(D19)#38  need(D19)#19  1
    short(D20)#39  Obj       20
    short(D20)#39  need(D20)#20  1
RHS
    RHS_V     supply#0  589
    RHS_V     need(D01)#1  27
    RHS_V     need(D02)#2  93
    RHS_V     need(D03)#3  35
    RHS_V     need(D04)#4  54
    RHS_V     need(D05)#5  56
    RHS_V     need(D06)#6  29
    RHS_V     need(D07)#7  21
    RHS_V     need(D08)#8  21
    RHS_V     need(D09)#9  23
    RHS_V     need(D10)#10  39
    RHS_V     need(D11)#11  10
    RHS_V     need(D12)#12  21
    RHS_V     need(D13)#13  25
    RHS_V     need(D14)#14  34
    RHS_V     need(D15)#15  20
    RHS_V     need(D16)#16  30
    RHS_V     need(D17)#17  10
    RHS_V     need(D18)#18  15
    RHS_V     need(D19)#19  26
    RHS_V     need(D20)#20  31
BOUNDS
 UI BOUND     dose(D01)#0  27
 UI BOUND     dose(D02)#1  93
 UI BOUND     dose(D03)#2  35
 UI BOUND     dose(D04)#3  54
 UI BOUND     dose(D05)#4  56
 UI BOUND     dose(D06)#5  29
 UI BOUND     dose(D07)#6  21
 UI BOUND     dose(D08)#7  21
 UI BOUND     dose(D09)#8  23
 UI BOUND     dose(D10)#9  39
 UI BOUND     dose(D11)#10  10
 UI BOUND     dose(D12)#11  21
 UI BOUND     dose(D13)#12  25
 UI BOUND     dose(D14)#13  34
 UI BOUND     dose(D15)#14  20
 UI BOUND     dose(D16)#15  30
 UI BOUND     dose(D17)#16  10
 UI BOUND     dose(D18)#17  15
 UI BOUND     dose(D19)#18  26
 UI BOUND     dose(D20)#19  31
ENDATA
